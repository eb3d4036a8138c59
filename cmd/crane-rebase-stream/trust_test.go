package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/rebasekit/rebasekit/pkg/provenance"
	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/sigstore/sigstore/pkg/signature"
)

// A key the verify flags cannot use stops the run before a line is read:
// exit 2, nothing asked of any registry.
func TestVerifyKeyRefusedAtStart(t *testing.T) {
	priv := writeCosignKey(t, "pw")
	missing := filepath.Join(t.TempDir(), "nope.pub")
	notPEM := filepath.Join(t.TempDir(), "cosign.pub")
	os.WriteFile(notPEM, []byte("hello\n"), 0o644)
	for _, flag := range []string{"verify-base-key", "verify-image-key"} {
		for _, c := range []struct{ name, key, want string }{
			{"unreadable", missing, "crane-rebase-stream: --" + flag + " " + missing + ": open " + missing + ": no such file or directory\n"},
			{"private key", priv, "crane-rebase-stream: --" + flag + " " + priv + `: a private key, not a public key (a PEM "ENCRYPTED SIGSTORE PRIVATE KEY" block): give the public key (cosign public-key --key ` + priv + " writes it)\n"},
			{"not PEM", notPEM, "crane-rebase-stream: --" + flag + " " + notPEM + ": not a PEM public key\n"},
		} {
			t.Run(flag+" "+c.name, func(t *testing.T) {
				reg, _, _, _ := setup(t)
				reg.Reset()
				var out, errb strings.Builder
				code := runMain([]string{"crane-rebase-stream", "--" + flag, c.key, "-"}, untouched{t}, &out, &errb)
				if code != exitUsage || out.Len() != 0 || errb.String() != c.want {
					t.Errorf("exit %d, stdout %q, stderr\n%q\nwant\n%q", code, out.String(), errb.String(), c.want)
				}
				if n := len(reg.Requests()); n != 0 {
					t.Errorf("%d registry requests before the key was refused", n)
				}
			})
		}
	}
}

// writePublicKey writes a fresh key pair's public key as cosign.pub and
// returns the signer, the path and the key's fingerprint.
func writePublicKey(t *testing.T) (signature.SignerVerifier, string, string) {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sv, err := signature.LoadDefaultSignerVerifier(k)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	path := filepath.Join(t.TempDir(), "cosign.pub")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	return sv, path, "sha256:" + hex.EncodeToString(sum[:])
}

// signRef signs ref's digest as cosign sign --key does and returns the
// signature image's digest.
func signRef(t *testing.T, ref string, sv signature.Signer) (name.Digest, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Get(r, remote.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	d := r.Context().Digest(desc.Digest.String())
	p, sig, err := provenance.SignSimple(ctx, sv, d)
	if err != nil {
		t.Fatal(err)
	}
	img, err := provenance.SignatureImage(nil, p, sig)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r.Context().Tag(rebase.CosignTag(desc.Digest, "sig")), img, remote.WithContext(ctx)); err != nil {
		t.Fatal(err)
	}
	sd, _ := img.Digest()
	return d, r.Context().Tag(rebase.CosignTag(desc.Digest, "sig")).String() + "@" + sd.String()
}

// -v and the report say which base signature was verified, by which key;
// a base no given key verifies is refused: echoed, exit 1, the reason on
// stderr.
func TestVerifyBaseKeyVerboseAndReport(t *testing.T) {
	reg, app1, _, _ := setup(t)
	sv, pub, fp := writePublicKey(t)
	_, other, _ := writePublicKey(t)
	base, sig := signRef(t, reg.Ref("base:stable"), sv)

	code, out, errs := runCmd(t, app1+"\n", "--verify-base-key", other, "-")
	if code != exitFailed || out != app1+"\n" || !strings.Contains(errs, "crane-rebase-stream: "+app1+": error: ") ||
		!strings.Contains(errs, ": refused: the new base "+reg.Ref("base:stable")+" is not trusted: its index "+base.DigestStr()+": a signature no given key verifies (") {
		t.Errorf("another key: exit %d, stdout %q, stderr:\n%s", code, out, errs)
	}

	report := filepath.Join(t.TempDir(), "report.json")
	code, out, errs = runCmd(t, app1+"\n", "-v", "--dry-run", "--verify-base-key", other, "--verify-base-key", pub, "--report", report, "-")
	if code != 0 || out == app1+"\n" {
		t.Fatalf("exit %d, stdout %q: %s", code, out, errs)
	}
	wantVerifiedBase(t, errs, report, "crane-rebase-stream: "+app1+": verified base "+base.String()+": signature "+sig+", key "+fp+"\n", sig, fp)
}

// wantVerifiedBase checks that stderr (errs) says line, and only one
// verification, and that the --report at report records that one: the
// base's signature sig, verified by (a key's fingerprint, an identity).
func wantVerifiedBase(t *testing.T, errs, report, line, sig, by string) {
	t.Helper()
	if !strings.Contains(errs, line) || strings.Count(errs, ": verified ") != 1 {
		t.Errorf("stderr lacks %q (once):\n%s", line, errs)
	}
	b, _ := os.ReadFile(report)
	var rep struct {
		Images []struct {
			Verified []struct{ Role, Subject, Signature, By string }
		}
	}
	if err := json.Unmarshal(b, &rep); err != nil || len(rep.Images) != 1 || len(rep.Images[0].Verified) != 1 ||
		rep.Images[0].Verified[0].Signature != sig || rep.Images[0].Verified[0].By != by || rep.Images[0].Verified[0].Role != "base" {
		t.Errorf("report (%v):\n%s", err, b)
	}
}
