package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// trustReport is the part of --report the trust test reads.
type trustReport struct {
	Images []struct {
		Input, Output, Action, Reason, NewDigest string
		Verified                                 []struct{ Role, Subject, Signature, By string }
		Signed                                   []struct{ Of, Kind, Tag, Digest string }
	}
}

// fingerprint is the hex SHA-256 of a PEM public key's DER, as
// crane-rebase-stream names keys.
func fingerprint(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := pem.Decode(b)
	if p == nil {
		t.Fatalf("%s: not PEM", path)
	}
	sum := sha256.Sum256(p.Bytes)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// resolve resolves ref (host-relative) on the suite's registry.
func resolve(t *testing.T, ref string) v1.Hash {
	t.Helper()
	r, err := name.ParseReference(suite.host + "/" + ref)
	if err != nil {
		t.Fatal(err)
	}
	d, err := remote.Head(r)
	if err != nil {
		t.Fatal(err)
	}
	return d.Digest
}

func sigTag(d v1.Hash) string { return strings.Replace(d.String(), ":", "-", 1) + ".sig" }

// TestTrustWithCosign: the real cosign signs bases and apps (cosign sign
// --key --tlog-upload=false) on the real docker-registry; crane-rebase-stream
// rebases onto a base only when --verify-base-key's key verifies its
// signature, and rebases (and signs) an app only when --verify-image-key's
// key verifies the app's. Refused lines are echoed, exit 1, and nothing is
// written; the verified run's report and -v name the signatures and the
// keys' fingerprints, its provenance records them, and cosign verify --key
// passes on the result with the signing key.
func TestTrustWithCosign(t *testing.T) {
	need(t)
	cosign := cosignBin(t)
	ctx := context.Background()
	dir := t.TempDir()

	if _, err := pushBase(ctx, "trustbase", "v1"); err != nil {
		t.Fatal(err)
	}
	out, err := ko(ctx, []string{"KO_DOCKER_REPO=" + suite.host + "/trusted", "KO_DEFAULTBASEIMAGE=" + suite.host + "/trustbase:stable"}, "build", "./hello")
	if err != nil {
		t.Fatal(err)
	}
	app, err := findRef(out, suite.host+"/trusted/hello")
	if err != nil {
		t.Fatalf("ko build output: %v\n%s", err, out)
	}
	if _, err := pushBase(ctx, "trustbase", "v2"); err != nil {
		t.Fatal(err)
	}
	v1d, v2d := resolve(t, "trustbase:v1"), resolve(t, "trustbase:v2")
	stable := suite.host + "/trustbase:stable"
	if err := os.WriteFile(filepath.Join(dir, "images.txt"), []byte(app+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"COSIGN_PASSWORD=pw"}
	for _, k := range []string{"a", "b", "org"} {
		if _, errs, code := cosignRun(t, cosign, dir, env, "generate-key-pair", "--output-key-prefix", k); code != 0 {
			t.Fatalf("cosign generate-key-pair: exit %d\n%s", code, errs)
		}
	}
	sign := func(key, ref string) {
		t.Helper()
		if _, errs, code := cosignRun(t, cosign, dir, env, "sign", "--key", key, "--tlog-upload=false", "--yes",
			"--allow-insecure-registry", "--allow-http-registry", ref); code != 0 {
			t.Fatalf("cosign sign --key %s %s: exit %d\n%s", key, ref, code, errs)
		}
	}
	// refused runs script: exit 1, the input echoed, stderr holding want
	// (after the platform that met the base first, for a base's refusal),
	// nothing written.
	refused := func(script, want string) {
		t.Helper()
		before, err := suite.reg.apiState(ctx)
		if err != nil {
			t.Fatal(err)
		}
		p := shell(t, dir, script)
		if p.code != 1 || p.stdout != app+"\n" || !strings.Contains(p.stderr, "crane-rebase-stream: "+app+": error: ") || !strings.Contains(p.stderr, want) {
			t.Errorf("%s: exit %d, stdout %q, stderr:\n%s\nwant exit 1, the input echoed, stderr holding %q", script, p.code, p.stdout, p.stderr, want)
		}
		if after, err := suite.reg.apiState(ctx); err != nil || !maps.Equal(before, after) {
			t.Errorf("%s: a refused line changed the registry (%v): %s", script, err, snapshotDiff(before, after))
		}
	}
	baseRefused := "refused: the new base " + stable + " is not trusted: its index " + v2d.String() + ": "

	// An unsigned base version.
	refused("crane-rebase-stream --verify-base-key a.pub images.txt",
		baseRefused+"no signature (nothing at "+suite.host+"/trustbase:"+sigTag(v2d)+")")

	// A .sig tag copied from another digest: v1's signature, at v2's tag.
	sign("a.key", suite.host+"/trustbase@"+v1d.String())
	from, _ := name.ParseReference(suite.host + "/trustbase:" + sigTag(v1d))
	to, _ := name.ParseReference(suite.host + "/trustbase:" + sigTag(v2d))
	desc, err := remote.Get(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Put(to, desc); err != nil {
		t.Fatal(err)
	}
	refused("crane-rebase-stream --verify-base-key a.pub images.txt", baseRefused+"a signature for another digest (")

	// Signed with A (cosign appends to the copied signature): B refused.
	sign("a.key", suite.host+"/trustbase@"+v2d.String())
	refused("crane-rebase-stream --verify-base-key b.pub images.txt", baseRefused+"a signature no given key verifies (")

	// An unsigned app, with a signing key: refused, nothing signed.
	refused("COSIGN_PASSWORD=pw crane-rebase-stream --verify-base-key a.pub --verify-image-key a.pub --sign-key org.key images.txt",
		"refused: the image "+app+" is not trusted: no signature (nothing at "+suite.host+"/trusted/hello:"+sigTag(resolve(t, app[len(suite.host)+1:]))+")")

	// The same app signed with A: rebased, signed with the org key.
	sign("a.key", app)
	p := shell(t, dir, "COSIGN_PASSWORD=pw crane-rebase-stream -v --verify-base-key b.pub --verify-base-key a.pub --verify-image-key a.pub --sign-key org.key --report report.json images.txt > rebased.txt")
	if p.code != 0 {
		t.Fatalf("verified run: exit %d\n%s", p.code, p.stderr)
	}
	var rep trustReport
	b, _ := os.ReadFile(filepath.Join(dir, "report.json"))
	if err := json.Unmarshal(b, &rep); err != nil || len(rep.Images) != 1 || rep.Images[0].Action != "rebased" {
		t.Fatalf("report (%v):\n%s", err, b)
	}
	img := rep.Images[0]
	fpA := fingerprint(t, filepath.Join(dir, "a.pub"))
	baseSig := suite.host + "/trustbase:" + sigTag(v2d) + "@" + resolve(t, "trustbase:"+sigTag(v2d)).String()
	appDigest := app[strings.Index(app, "@")+1:]
	appSig := suite.host + "/trusted/hello:" + strings.Replace(appDigest, ":", "-", 1) + ".sig@" + resolve(t, "trusted/hello:"+strings.Replace(appDigest, ":", "-", 1)+".sig").String()
	want := map[string]string{
		"base":  suite.host + "/trustbase@" + v2d.String() + " " + baseSig + " " + fpA,
		"image": app + " " + appSig + " " + fpA,
	}
	if len(img.Verified) != 2 {
		t.Errorf("report: verified %+v, want the base's and the image's", img.Verified)
	}
	for _, v := range img.Verified {
		if got := v.Subject + " " + v.Signature + " " + v.By; got != want[v.Role] {
			t.Errorf("report: verified %s %s, want %s", v.Role, got, want[v.Role])
		}
		line := "crane-rebase-stream: " + app + ": verified " + v.Role + " " + v.Subject + ": signature " + v.Signature + ", key " + v.By + "\n"
		if !strings.Contains(p.stderr, line) {
			t.Errorf("-v lacks %q:\n%s", line, p.stderr)
		}
	}
	// cosign verify --key org.pub passes on the result; its provenance
	// records the verified signatures.
	result := img.Output
	offline := []string{"--key", "org.pub", "--insecure-ignore-tlog=true", "--allow-insecure-registry", "--allow-http-registry"}
	if _, errs, code := cosignRun(t, cosign, dir, nil, append(append([]string{"verify"}, offline...), result)...); code != 0 {
		t.Errorf("cosign verify --key org.pub %s: exit %d\n%s", result, code, errs)
	}
	atts, errs, code := cosignRun(t, cosign, dir, nil, append(append([]string{"verify-attestation", "--type", "slsaprovenance1"}, offline...), result)...)
	if code != 0 {
		t.Fatalf("cosign verify-attestation %s: exit %d\n%s", result, code, errs)
	}
	var envl struct{ Payload string }
	json.Unmarshal([]byte(strings.TrimSpace(atts)), &envl)
	st, _ := base64.StdEncoding.DecodeString(envl.Payload)
	var stmt struct {
		Predicate struct {
			BuildDefinition struct {
				InternalParameters struct {
					Verified []struct{ Role, Subject, Signature, Verifier string }
				}
			}
		}
	}
	if err := json.Unmarshal(st, &stmt); err != nil {
		t.Fatalf("%v\n%s", err, st)
	}
	vs := stmt.Predicate.BuildDefinition.InternalParameters.Verified
	if len(vs) != 2 {
		t.Errorf("the provenance records %d verified signatures, want 2:\n%s", len(vs), st)
	}
	for _, v := range vs {
		if got := v.Subject + " " + v.Signature + " " + v.Verifier; got != want[v.Role] {
			t.Errorf("provenance: verified %s %s, want %s", v.Role, got, want[v.Role])
		}
	}
}
