package rebase_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/rebasekit/rebasekit/pkg/provenance"
	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
)

// keyVerifier trusts sv's public key, as --verify-base-key cosign.pub does.
func keyVerifier(t *testing.T, svs ...signature.SignerVerifier) (provenance.KeyVerifier, []string) {
	t.Helper()
	var kv provenance.KeyVerifier
	var fps []string
	for _, sv := range svs {
		pub, err := sv.PublicKey()
		if err != nil {
			t.Fatal(err)
		}
		pemb, err := cryptoutils.MarshalPublicKeyToPEM(pub)
		if err != nil {
			t.Fatal(err)
		}
		k, err := provenance.ParsePublicKey(pemb)
		if err != nil {
			t.Fatal(err)
		}
		kv, fps = append(kv, k), append(fps, k.Fingerprint)
	}
	return kv, fps
}

// cosignSign signs repo@d as cosign sign --key does: the simple-signing
// payload of d, appended to the image at repo:sha256-<hex>.sig. It returns
// the signature image's digest.
func (w *world) cosignSign(repo string, d v1.Hash, sv signature.Signer) v1.Hash {
	w.t.Helper()
	return w.putSig(repo, d, d, sv)
}

// putSig puts at repo's .sig tag of at a signature of signed.
func (w *world) putSig(repo string, at, signed v1.Hash, sv signature.Signer) v1.Hash {
	w.t.Helper()
	r, err := name.NewRepository(w.ref(repo))
	if err != nil {
		w.t.Fatal(err)
	}
	p, sig, err := provenance.SignSimple(w.ctx, sv, r.Digest(signed.String()))
	if err != nil {
		w.t.Fatal(err)
	}
	img, err := provenance.SignatureImage(nil, p, sig)
	if err != nil {
		w.t.Fatal(err)
	}
	return w.pushSignature(r, at, img)
}

// pushSignature pushes img, a cosign signature image, to r's cosign tag for
// at (sha256-HEX.sig) and returns its digest.
func (w *world) pushSignature(r name.Repository, at v1.Hash, img v1.Image) v1.Hash {
	w.t.Helper()
	if err := remote.Write(r.Tag(rebase.CosignTag(at, "sig")), img, remote.WithContext(w.ctx)); err != nil {
		w.t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		w.t.Fatal(err)
	}
	return d
}

func (w *world) digest(ref string) v1.Hash { return w.get(w.ref(ref)).Digest }

// With a base verifier, a rebase onto a base signed with a trusted key
// goes ahead and says which signature, by which key; onto a base
// unsigned, signed with another key, or carrying a signature copied from
// another digest, the line is refused: echoed, nothing pushed, the reason
// naming the base and what was missing. Dry run verifies the same. (A
// single-platform base: the message of an index names its platform
// manifest too, TestBaseVerifierPlatformSignatures.)
func TestBaseVerifier(t *testing.T) {
	w := newWorld(t)
	w.base("base", "v1", rebasetest.BaseSpec{Single: true})
	w.tag("base:v1", "base:stable")
	app := w.app("app", rebasetest.AppSpec{Base: "base:stable"})
	w.base("base", "v2", rebasetest.BaseSpec{Single: true})
	w.tag("base:v2", "base:stable")
	v1d, v2d := w.digest("base:v1"), w.digest("base:v2")
	a, b := testKey(t), testKey(t)
	trustA, fps := keyVerifier(t, a)
	stable := w.ref("base:stable")
	sigTag := w.ref("base:" + rebase.CosignTag(v2d, "sig"))

	refused := func(t *testing.T, want string) {
		t.Helper()
		w.wantBaseRefused(t, app, trustA, want)
	}
	t.Run("unsigned", func(t *testing.T) {
		refused(t, "refused: the new base "+stable+" is not trusted: "+v2d.String()+": no signature (nothing at "+sigTag+")")
	})
	t.Run("another key", func(t *testing.T) {
		s := w.cosignSign("base", v2d, b)
		refused(t, "refused: the new base "+stable+" is not trusted: "+v2d.String()+": a signature no given key verifies ("+sigTag+"@"+s.String()+": 1 signature(s), 1 key(s) given)")
	})
	t.Run("copied from another digest", func(t *testing.T) {
		s := w.putSig("base", v2d, v1d, a) // v1's signature, at v2's tag
		refused(t, "refused: the new base "+stable+" is not trusted: "+v2d.String()+": a signature for another digest ("+sigTag+"@"+s.String()+" signs "+v1d.String()+")")
	})
	t.Run("signed", func(t *testing.T) {
		s := w.cosignSign("base", v2d, a)
		trustBoth, _ := keyVerifier(t, b, a)
		dry := newRebaser(rebase.WithBaseVerifier(trustBoth), rebase.WithDryRun(true)).Rebase(w.ctx, app)
		res := newRebaser(rebase.WithBaseVerifier(trustBoth)).Rebase(w.ctx, app)
		want := rebase.Verified{Role: "base", Subject: w.ref("base@" + v2d.String()), Signature: sigTag + "@" + s.String(), By: fps[0]}
		for _, r := range []rebase.Result{dry, res} {
			if r.Action != rebase.Rebased {
				t.Fatalf("%s: %s", r.Action, r.Reason)
			}
			if len(r.Verified) != 1 || r.Verified[0] != want {
				t.Errorf("verified %+v, want %+v", r.Verified, want)
			}
			for _, p := range r.Platforms {
				if p.Verified == nil || *p.Verified != want {
					t.Errorf("%s: verified %+v", p.Platform, p.Verified)
				}
			}
		}
		// Up to date on a base that verifies: verified too.
		again := newRebaser(rebase.WithBaseVerifier(trustA)).Rebase(w.ctx, res.Output)
		if again.Action != rebase.UpToDate || len(again.Verified) != 1 {
			t.Errorf("again: %s %s, verified %+v", again.Action, again.Reason, again.Verified)
		}
	})
}

// An image up to date on a base that does not verify is refused (echoed,
// as it would be anyway): the base it is on is not trusted.
func TestBaseVerifierUpToDate(t *testing.T) {
	w := newWorld(t)
	w.base("base", "v1", rebasetest.BaseSpec{})
	w.tag("base:v1", "base:stable")
	app := w.app("app", rebasetest.AppSpec{Base: "base:stable"})
	trust, _ := keyVerifier(t, testKey(t))
	res := newRebaser(rebase.WithBaseVerifier(trust)).Rebase(w.ctx, app)
	if res.Action != rebase.Failed || res.Output != app || !strings.Contains(res.Reason, "refused: the new base "+w.ref("base:stable")+" is not trusted: ") {
		t.Errorf("%s %s: %s", res.Action, res.Output, res.Reason)
	}
}

// A base whose index is not signed but whose platform manifests are (what
// cosign sign of a platform manifest makes) verifies, per platform.
func TestBaseVerifierPlatformSignatures(t *testing.T) {
	w := newWorld(t)
	app := w.movedApp("app", rebasetest.AppSpec{Base: "base:stable"})
	a := testKey(t)
	trust, _ := keyVerifier(t, a)
	for _, d := range w.index(w.ref("base:v2")).Manifests {
		w.cosignSign("base", d.Digest, a)
	}
	res := newRebaser(rebase.WithBaseVerifier(trust)).Rebase(w.ctx, app)
	if res.Action != rebase.Rebased {
		t.Fatalf("%s: %s", res.Action, res.Reason)
	}
	if len(res.Verified) != len(res.Platforms) {
		t.Errorf("verified %+v", res.Verified)
	}
	for _, p := range res.Platforms {
		if p.Verified == nil || p.Verified.Subject != w.ref("base@"+p.NewBase) {
			t.Errorf("%s: verified %+v, want the platform manifest %s", p.Platform, p.Verified, p.NewBase)
		}
	}
	// One platform unsigned: that platform is refused, and with it the line.
	w2 := newWorld(t)
	app2 := w2.movedApp("app", rebasetest.AppSpec{Base: "base:stable"})
	ms := w2.index(w2.ref("base:v2")).Manifests
	w2.cosignSign("base", ms[0].Digest, a)
	res = newRebaser(rebase.WithBaseVerifier(trust)).Rebase(w2.ctx, app2)
	if res.Action != rebase.Failed || !strings.Contains(res.Reason, "its index "+w2.digest("base:v2").String()+": no signature") || !strings.Contains(res.Reason, "manifest "+ms[1].Digest.String()+": no signature") {
		t.Errorf("%s: %s", res.Action, res.Reason)
	}
}

// With an image verifier, an unsigned input is refused before anything is
// pushed or signed; once signed with a trusted key it is rebased (and
// signed), the report naming its signature.
func TestImageVerifier(t *testing.T) {
	w := newWorld(t)
	app := w.movedApp("app", rebasetest.AppSpec{Base: "base:stable"})
	a := testKey(t)
	trust, fps := keyVerifier(t, a)
	signer := rebase.WithSigner(provenance.NewSigner(testKey(t), "test"))
	appDigest, _ := v1.NewHash(app[strings.Index(app, "@")+1:])
	w.reg.Reset()
	res := newRebaser(rebase.WithImageVerifier(trust), signer).Rebase(w.ctx, app)
	want := "refused: the image " + app + " is not trusted: no signature (nothing at " + w.ref("app:"+rebase.CosignTag(appDigest, "sig")) + ")"
	if res.Action != rebase.Failed || res.Output != app || res.Reason != want || len(res.Signed) != 0 {
		t.Errorf("%s %s: %q\nwant %q; signed %v", res.Action, res.Output, res.Reason, want, res.Signed)
	}
	if ws := w.reg.Writes(); len(ws) != 0 {
		t.Errorf("refused, yet wrote %v", ws)
	}
	s := w.cosignSign("app", appDigest, a)
	res = newRebaser(rebase.WithImageVerifier(trust), signer).Rebase(w.ctx, app)
	if res.Action != rebase.Rebased || len(res.Signed) == 0 {
		t.Fatalf("%s: %s", res.Action, res.Reason)
	}
	wantV := rebase.Verified{Role: "image", Subject: app, Signature: w.ref("app:"+rebase.CosignTag(appDigest, "sig")) + "@" + s.String(), By: fps[0]}
	if len(res.Verified) != 1 || res.Verified[0] != wantV {
		t.Errorf("verified %+v, want %+v", res.Verified, wantV)
	}
	// The attestation records it.
	_, bodies := w.tagLayers("app", rebase.CosignTag(mustHash(t, res.NewDigest), "att"))
	if len(bodies) != 1 || !strings.Contains(decodeEnvelope(t, bodies[0]), `"verified":[{"role":"image","signature":"`+wantV.Signature+`","subject":"`+app+`","verifier":"`+fps[0]+`"}]`) {
		t.Errorf("the attestation does not record the verified signature: %s", decodeEnvelope(t, bodies[0]))
	}
}

// With both verifiers, a run looks each base's signature up once and each
// input's once; the signatures cost nothing without them (TestRequestCounts).
func TestVerifierRequestCounts(t *testing.T) {
	w := newWorld(t)
	w.base("base", "v1", rebasetest.BaseSpec{})
	w.tag("base:v1", "base:stable")
	a := testKey(t)
	var apps []string
	for i := 0; i < 4; i++ {
		app := w.app(fmt.Sprintf("app%d", i), rebasetest.AppSpec{Base: "base:stable", Name: fmt.Sprint("app", i)})
		w.cosignSign(fmt.Sprintf("app%d", i), mustHash(t, app[strings.Index(app, "@")+1:]), a)
		apps = append(apps, app)
	}
	w.base("base", "v2", rebasetest.BaseSpec{})
	w.tag("base:v2", "base:stable")
	w.cosignSign("base", w.digest("base:v2"), a)
	trust, _ := keyVerifier(t, a)
	w.reg.Reset()
	sum, err := streamLines(newRebaser(rebase.WithBaseVerifier(trust), rebase.WithImageVerifier(trust), rebase.WithReferrers(false), rebase.WithDryRun(true)), 8)(w.ctx, strings.NewReader(strings.Join(apps, "\n")), io.Discard, nil)
	if err != nil || sum.Rebased != len(apps) {
		t.Fatalf("%s %v", sum, err)
	}
	lookups := map[string]int{}
	for _, q := range w.reg.Requests() {
		if strings.HasSuffix(q.Path, ".sig") {
			lookups[q.Method+" "+q.Path]++
		}
	}
	if len(lookups) != 1+len(apps) {
		t.Errorf("looked up %d signatures, want 1 base + %d images: %v", len(lookups), len(apps), lookups)
	}
	for k, n := range lookups {
		if n != 1 {
			t.Errorf("%s: %d times, want once", k, n)
		}
	}
}

func mustHash(t *testing.T, s string) v1.Hash {
	t.Helper()
	h, err := v1.NewHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// decodeEnvelope is the statement a DSSE envelope carries.
func decodeEnvelope(t *testing.T, b []byte) string {
	t.Helper()
	var env struct{ Payload string }
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	st, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		t.Fatal(err)
	}
	return string(st)
}

// wantBaseRefused rebases app with k as the base's verifier, in a dry run
// and a real one: each must refuse the line with want, write nothing and
// record nothing verified.
func (w *world) wantBaseRefused(t *testing.T, app string, k rebase.Verifier, want string) {
	t.Helper()
	for _, dry := range []bool{true, false} {
		w.reg.Reset()
		res := newRebaser(rebase.WithBaseVerifier(k), rebase.WithDryRun(dry)).Rebase(w.ctx, app)
		if res.Action != rebase.Failed || res.Output != app || res.Reason != want {
			t.Errorf("dry run %v: %s %s: %q\nwant %q", dry, res.Action, res.Output, res.Reason, want)
		}
		if ws := w.reg.Writes(); len(ws) != 0 {
			t.Errorf("dry run %v: refused, yet wrote %v", dry, ws)
		}
		if len(res.Verified) != 0 {
			t.Errorf("verified %+v", res.Verified)
		}
	}
}
