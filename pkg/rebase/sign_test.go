package rebase_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/rebasekit/rebasekit/pkg/provenance"
	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/dsse"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

func testKey(t *testing.T) signature.SignerVerifier {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sv, err := signature.LoadDefaultSignerVerifier(k)
	if err != nil {
		t.Fatal(err)
	}
	return sv
}

// tagLayers reads the cosign image at repo:tag and returns its layers'
// annotations and contents.
func (w *world) tagLayers(repo, tag string) ([]map[string]string, [][]byte) {
	w.t.Helper()
	ref, err := name.ParseReference(w.ref(repo + ":" + tag))
	if err != nil {
		w.t.Fatal(err)
	}
	img, err := remote.Image(ref, remote.WithContext(w.ctx))
	if err != nil {
		w.t.Fatalf("%s:%s: %v", repo, tag, err)
	}
	m, err := img.Manifest()
	if err != nil {
		w.t.Fatal(err)
	}
	var anns []map[string]string
	var bodies [][]byte
	for _, l := range m.Layers {
		layer, err := img.LayerByDigest(l.Digest)
		if err != nil {
			w.t.Fatal(err)
		}
		rc, err := layer.Compressed()
		if err != nil {
			w.t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		anns, bodies = append(anns, l.Annotations), append(bodies, b)
	}
	return anns, bodies
}

// With a signer, a rebase pushes a cosign signature and attestation for the
// index and for each rebased platform manifest, by tag, into the image's
// repository; the report lists them; the rebased digest is the one a run
// without a signer pushes; the signatures verify with the key.
func TestSignerSignsIndexAndPlatforms(t *testing.T) {
	w := newWorld(t)
	app := w.movedApp("app", rebasetest.AppSpec{Base: "base:stable"})

	plain := newRebaser(rebase.WithDryRun(true)).Rebase(w.ctx, app)
	sv := testKey(t)
	dry := newRebaser(rebase.WithDryRun(true), rebase.WithSigner(provenance.NewSigner(sv, "test"))).Rebase(w.ctx, app)
	if len(dry.Signed) != 6 || dry.Signed[0].Digest != "" || dry.NewDigest != plain.NewDigest {
		t.Fatalf("dry run: signed %+v, digest %s (without a signer %s)", dry.Signed, dry.NewDigest, plain.NewDigest)
	}
	w.reg.Reset()
	res := newRebaser(rebase.WithSigner(provenance.NewSigner(sv, "test"))).Rebase(w.ctx, app)
	if res.Action != rebase.Rebased {
		t.Fatalf("%s: %s", res.Action, res.Reason)
	}
	if res.NewDigest != plain.NewDigest {
		t.Errorf("signing changed the digest: %s, without a signer %s", res.NewDigest, plain.NewDigest)
	}
	subjects := []string{res.NewDigest}
	for _, p := range res.Platforms {
		subjects = append(subjects, p.NewDigest)
	}
	if len(res.Signed) != 2*len(subjects) {
		t.Fatalf("signed %d artifacts, want %d: %+v", len(res.Signed), 2*len(subjects), res.Signed)
	}
	for i, s := range res.Signed {
		want := subjects[i/2]
		kind, suffix := rebase.Signature, ".sig"
		if i%2 == 1 {
			kind, suffix = rebase.Attestation, ".att"
		}
		tag := strings.Replace(want, ":", "-", 1) + suffix
		if s.Of != want || s.Kind != kind || s.Tag != w.ref("app:"+tag) || s.Digest == "" {
			t.Errorf("signed[%d] = %+v, want %s of %s at %s", i, s, kind, want, tag)
		}
		if got := w.get(w.ref("app:" + tag)).Digest.String(); got != s.Digest {
			t.Errorf("%s names %s, the report says %s", tag, got, s.Digest)
		}
		anns, bodies := w.tagLayers("app", tag)
		if len(bodies) != 1 {
			t.Fatalf("%s has %d layers", tag, len(bodies))
		}
		if kind == rebase.Signature {
			sig, _ := base64.StdEncoding.DecodeString(anns[0][provenance.SignatureAnnotation])
			if err := sv.VerifySignature(bytes.NewReader(sig), bytes.NewReader(bodies[0])); err != nil {
				t.Errorf("%s: %v", tag, err)
			}
			var p payload.Cosign
			if err := json.Unmarshal(bodies[0], &p); err != nil || p.Image.DigestStr() != want || p.Image.Context().Name() != w.ref("app") {
				t.Errorf("%s: payload %s (%v)", tag, bodies[0], err)
			}
			continue
		}
		if anns[0][provenance.PredicateTypeAnnotation] != provenance.PredicateType {
			t.Errorf("%s: annotations %v", tag, anns[0])
		}
		if err := dsse.WrapVerifier(sv).VerifySignature(bytes.NewReader(bodies[0]), nil); err != nil {
			t.Errorf("%s: the envelope does not verify: %v", tag, err)
		}
		var env struct{ PayloadType, Payload string }
		json.Unmarshal(bodies[0], &env)
		st, _ := base64.StdEncoding.DecodeString(env.Payload)
		var statement struct {
			Subject []struct {
				Digest map[string]string
			}
			Predicate struct {
				BuildDefinition struct {
					BuildType            string
					ResolvedDependencies []struct {
						Digest      map[string]string
						Annotations map[string]string
					}
				}
			}
		}
		if err := json.Unmarshal(st, &statement); err != nil || env.PayloadType != provenance.InTotoPayloadType {
			t.Fatalf("%s: %s %s (%v)", tag, env.PayloadType, st, err)
		}
		if len(statement.Subject) != 1 || "sha256:"+statement.Subject[0].Digest["sha256"] != want || statement.Predicate.BuildDefinition.BuildType != provenance.BuildType {
			t.Errorf("%s: statement %s", tag, st)
		}
		var deps []string
		for _, d := range statement.Predicate.BuildDefinition.ResolvedDependencies {
			deps = append(deps, d.Annotations["role"]+" "+d.Annotations["platform"]+" sha256:"+d.Digest["sha256"])
		}
		if !slices.Contains(deps, "image  "+res.Digest) {
			t.Errorf("%s: the dependencies do not name the old image %s: %v", tag, res.Digest, deps)
		}
		for _, p := range res.Platforms {
			if want != res.NewDigest && want != p.NewDigest {
				continue
			}
			for _, d := range []string{"old-base " + p.Platform + " " + p.OldBase, "new-base " + p.Platform + " " + p.NewBase, "image " + p.Platform + " " + p.Digest} {
				if !slices.Contains(deps, d) {
					t.Errorf("%s: the dependencies lack %q: %v", tag, d, deps)
				}
			}
		}
	}
	// Signing costs, per artifact: a GET of its tag (a 404), the payload
	// and the config uploaded (a POST and a PUT each), the manifest PUT.
	c := w.reg.Counts()
	if n := len(res.Signed); c["PUT manifest"] != n+len(subjects) || c["POST upload"] < 2*n {
		t.Errorf("requests %v for %d artifacts", c, n)
	}

	// A second signature of the same digest is appended, as cosign does:
	// nobody's signature is lost.
	p, err := newRebaser().Plan(w.ctx, app)
	if err != nil {
		t.Fatal(err)
	}
	r2 := newRebaser(rebase.WithSigner(provenance.NewSigner(testKey(t), "test")))
	if err := r2.Attach(w.ctx, p); err != nil {
		t.Fatal(err)
	}
	tag := strings.Replace(res.NewDigest, ":", "-", 1) + ".sig"
	if _, bodies := w.tagLayers("app", tag); len(bodies) != 2 {
		t.Errorf("%s has %d signatures after a second signer, want 2", tag, len(bodies))
	}
	// Rebasing again: up to date, nothing signed.
	again := newRebaser(rebase.WithSigner(provenance.NewSigner(sv, "test"))).Rebase(w.ctx, res.Output)
	if again.Action != rebase.UpToDate || len(again.Signed) != 0 {
		t.Errorf("second run: %s, signed %v", again.Action, again.Signed)
	}
}

// A signer's failure fails the image: the line is echoed, the old digest
// kept.
func TestSignerFailureFailsTheLine(t *testing.T) {
	w := newWorld(t)
	app := w.movedApp("app", rebasetest.AppSpec{Base: "base:stable"})
	plain := newRebaser(rebase.WithDryRun(true)).Rebase(w.ctx, app)
	res := newRebaser(rebase.WithSigner(failingSigner{})).Rebase(w.ctx, app)
	if want := "signing " + plain.NewDigest + ": the key is gone"; res.Action != rebase.Failed || res.Output != app || res.Reason != want {
		t.Errorf("%s %s: %q, want %q", res.Action, res.Output, res.Reason, want)
	}
	// An artifact that cannot be made (or pushed) fails the line too,
	// naming the tag; the report lists only what was pushed.
	res = newRebaser(rebase.WithSigner(failingSigner{image: true})).Rebase(w.ctx, app)
	tag := w.ref("app:" + strings.Replace(plain.NewDigest, ":", "-", 1) + ".sig")
	if want := "pushed " + plain.NewDigest + " but pushing its signature " + tag + ": no room"; res.Action != rebase.Failed || res.Output != app || res.Reason != want {
		t.Errorf("%s %s: %q, want %q", res.Action, res.Output, res.Reason, want)
	}
	if len(res.Signed) != 0 {
		t.Errorf("signed %+v", res.Signed)
	}
}

// failingSigner fails to sign, or (image) gives an artifact that cannot be
// made.
type failingSigner struct{ image bool }

func (f failingSigner) Attachments(ctx context.Context, p *rebase.Plan) ([]rebase.Attachment, error) {
	if !f.image {
		return nil, errors.New("the key is gone")
	}
	d, _ := v1.NewHash(p.NewDigest)
	return []rebase.Attachment{{Kind: rebase.Signature, Of: d, Tag: rebase.CosignTag(d, "sig"),
		Image: func(v1.Image) (v1.Image, error) { return nil, errors.New("no room") }}}, nil
}
