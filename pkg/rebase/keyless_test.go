package rebase_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/rebasekit/rebasekit/pkg/provenance"
	"github.com/rebasekit/rebasekit/pkg/provenance/keylesstest"
	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

const (
	keylessIdentity = "https://github.com/example/base/.github/workflows/release.yaml@refs/heads/main"
	keylessIssuer   = "https://token.actions.githubusercontent.com"
)

func newSigstore(t *testing.T) *keylesstest.Sigstore {
	t.Helper()
	s, err := keylesstest.New()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// keylessVerifier trusts identity of issuer under s's trusted root (with
// caOf's Fulcio CA if not nil), written and read back as --trusted-root
// reads it.
func keylessVerifier(t *testing.T, s, caOf *keylesstest.Sigstore, identity, issuer string) *provenance.KeylessVerifier {
	t.Helper()
	b, err := s.TrustedRoot(caOf)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "trusted_root.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	tr, err := provenance.LoadTrustedRoot(path)
	if err != nil {
		t.Fatal(err)
	}
	k, err := provenance.NewKeylessVerifier(tr, identity, "", issuer)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// keylessSign puts at repo's .sig tag of at a keyless signature of signed,
// as cosign sign (keyless) pushes it, and returns the signature image's
// digest.
func (w *world) keylessSign(repo string, at, signed v1.Hash, s *keylesstest.Sigstore, identity, issuer string, tamper func([]byte)) v1.Hash {
	w.t.Helper()
	r, err := name.NewRepository(w.ref(repo))
	if err != nil {
		w.t.Fatal(err)
	}
	p, err := provenance.SimpleSigning(r.Digest(signed.String()))
	if err != nil {
		w.t.Fatal(err)
	}
	ann, err := s.Sign(identity, issuer, p, tamper)
	if err != nil {
		w.t.Fatal(err)
	}
	img, err := keylesstest.Image(p, ann)
	if err != nil {
		w.t.Fatal(err)
	}
	return w.pushSignature(r, at, img)
}

// With a keyless base verifier, a rebase onto a base whose keyless
// signature verifies against the trusted root goes ahead, naming the
// certificate's identity; a signature of another identity or issuer, from
// another CA, with a tampered Rekor SET, or over another digest is refused:
// echoed, nothing pushed, the reason saying which check failed. Dry run
// verifies the same.
func TestBaseKeylessVerifier(t *testing.T) {
	w := newWorld(t)
	w.base("base", "v1", rebasetest.BaseSpec{Single: true})
	w.tag("base:v1", "base:stable")
	app := w.app("app", rebasetest.AppSpec{Base: "base:stable"})
	w.base("base", "v2", rebasetest.BaseSpec{Single: true})
	w.tag("base:v2", "base:stable")
	v1d, v2d := w.digest("base:v1"), w.digest("base:v2")
	s, other := newSigstore(t), newSigstore(t)
	trusted := keylessVerifier(t, s, nil, keylessIdentity, keylessIssuer)
	stable := w.ref("base:stable")
	sigTag := w.ref("base:" + rebase.CosignTag(v2d, "sig"))

	refused := func(t *testing.T, k rebase.Verifier, want string) {
		t.Helper()
		w.wantBaseRefused(t, app, k, want)
	}
	notVerified := func(sig v1.Hash, why string) string {
		return "refused: the new base " + stable + " is not trusted: " + v2d.String() + ": a keyless signature that does not verify for " + keylessIdentity + " issued by " + keylessIssuer + " (" + sigTag + "@" + sig.String() + ": " + why + ")"
	}
	t.Run("wrong identity", func(t *testing.T) {
		sig := w.keylessSign("base", v2d, v2d, s, "https://github.com/mallory/base/.github/workflows/release.yaml@refs/heads/main", keylessIssuer, nil)
		refused(t, trusted, notVerified(sig, `failed to verify certificate identity: no matching CertificateIdentity found, last error: expected SAN value "`+keylessIdentity+`", got "https://github.com/mallory/base/.github/workflows/release.yaml@refs/heads/main"`))
	})
	t.Run("wrong issuer", func(t *testing.T) {
		sig := w.keylessSign("base", v2d, v2d, s, keylessIdentity, "https://accounts.example", nil)
		refused(t, trusted, notVerified(sig, `failed to verify certificate identity: no matching CertificateIdentity found, last error: expected issuer value "`+keylessIssuer+`", got "https://accounts.example"`))
	})
	t.Run("certificate from another CA", func(t *testing.T) {
		// Logged in the trusted log, certified by a CA the root does not
		// hold.
		sig := w.keylessSign("base", v2d, v2d, other, keylessIdentity, keylessIssuer, nil)
		refused(t, keylessVerifier(t, other, s, keylessIdentity, keylessIssuer), notVerified(sig, "failed to verify leaf certificate: leaf certificate verification failed"))
	})
	t.Run("tampered SET", func(t *testing.T) {
		sig := w.keylessSign("base", v2d, v2d, s, keylessIdentity, keylessIssuer, func(set []byte) { set[len(set)/2] ^= 1 })
		refused(t, trusted, notVerified(sig, "its Rekor entry's signed timestamp does not verify with the trusted root's logs: unable to verify SET"))
	})
	t.Run("payload for another digest", func(t *testing.T) {
		sig := w.keylessSign("base", v2d, v1d, s, keylessIdentity, keylessIssuer, nil) // v1's signature, at v2's tag
		refused(t, trusted, "refused: the new base "+stable+" is not trusted: "+v2d.String()+": a signature for another digest ("+sigTag+"@"+sig.String()+" signs "+v1d.String()+")")
	})
	t.Run("valid", func(t *testing.T) {
		sig := w.keylessSign("base", v2d, v2d, s, keylessIdentity, keylessIssuer, nil)
		dry := newRebaser(rebase.WithBaseVerifier(trusted), rebase.WithDryRun(true)).Rebase(w.ctx, app)
		res := newRebaser(rebase.WithBaseVerifier(trusted)).Rebase(w.ctx, app)
		want := rebase.Verified{Role: "base", Subject: w.ref("base@" + v2d.String()), Signature: sigTag + "@" + sig.String(), By: keylessIdentity + " (issuer " + keylessIssuer + ")"}
		for _, r := range []rebase.Result{dry, res} {
			if r.Action != rebase.Rebased {
				t.Fatalf("%s: %s", r.Action, r.Reason)
			}
			if len(r.Verified) != 1 || r.Verified[0] != want {
				t.Errorf("verified %+v, want %+v", r.Verified, want)
			}
		}
		if res.Output == app || !strings.Contains(res.Output, "@sha256:") {
			t.Errorf("output %s", res.Output)
		}
	})
}

// A keyless image verifier refuses an input signed by another identity
// and rebases one signed by the identity wanted.
func TestImageKeylessVerifier(t *testing.T) {
	w := newWorld(t)
	app := w.movedApp("app", rebasetest.AppSpec{Base: "base:stable"})
	appDigest := mustHash(t, app[strings.Index(app, "@")+1:])
	s := newSigstore(t)
	trusted := keylessVerifier(t, s, nil, "dev@example.com", "https://accounts.example")
	sig := w.keylessSign("app", appDigest, appDigest, s, "eve@example.com", "https://accounts.example", nil)
	w.reg.Reset()
	res := newRebaser(rebase.WithImageVerifier(trusted)).Rebase(w.ctx, app)
	want := "refused: the image " + app + " is not trusted: a keyless signature that does not verify for dev@example.com issued by https://accounts.example (" + w.ref("app:"+rebase.CosignTag(appDigest, "sig")) + "@" + sig.String() + `: failed to verify certificate identity: no matching CertificateIdentity found, last error: expected SAN value "dev@example.com", got "eve@example.com")`
	if res.Action != rebase.Failed || res.Output != app || res.Reason != want {
		t.Errorf("%s %s: %q\nwant %q", res.Action, res.Output, res.Reason, want)
	}
	if ws := w.reg.Writes(); len(ws) != 0 {
		t.Errorf("refused, yet wrote %v", ws)
	}
	w.keylessSign("app", appDigest, appDigest, s, "dev@example.com", "https://accounts.example", nil)
	res = newRebaser(rebase.WithImageVerifier(trusted)).Rebase(w.ctx, app)
	if res.Action != rebase.Rebased || len(res.Verified) != 1 || res.Verified[0].By != "dev@example.com (issuer https://accounts.example)" {
		t.Errorf("%s: %s, verified %+v", res.Action, res.Reason, res.Verified)
	}
}
