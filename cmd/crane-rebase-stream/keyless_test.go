package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/rebasekit/rebasekit/pkg/provenance"
	"github.com/rebasekit/rebasekit/pkg/provenance/keylesstest"
	"github.com/rebasekit/rebasekit/pkg/rebase"
)

// writeTrustedRoot makes a virtual Sigstore and writes its trusted root.
func writeTrustedRoot(t *testing.T) (*keylesstest.Sigstore, string) {
	t.Helper()
	s, err := keylesstest.New()
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.TrustedRoot(nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "trusted_root.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return s, path
}

// Keyless flags given half, or a trusted root that cannot be used, stop
// the run before a line is read: exit 2, nothing asked of any registry.
func TestKeylessFlagsRefusedAtStart(t *testing.T) {
	_, root := writeTrustedRoot(t)
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.json")
	notJSON := filepath.Join(dir, "hello.json")
	os.WriteFile(notJSON, []byte("hello\n"), 0o644)
	empty := filepath.Join(dir, "empty.json")
	os.WriteFile(empty, []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`), 0o644)
	_, pub, _ := writePublicKey(t)
	const p = "crane-rebase-stream: "
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"unreadable trusted root", []string{"--verify-base-identity", "a@example.com", "--verify-base-issuer", "https://issuer.example", "--trusted-root", missing},
			p + "--trusted-root " + missing + ": open " + missing + ": no such file or directory\n"},
		{"trusted root not JSON", []string{"--verify-base-identity", "a@example.com", "--verify-base-issuer", "https://issuer.example", "--trusted-root", notJSON},
			p + "--trusted-root " + notJSON + ": not a Sigstore trusted root: failed to proto-json unmarshal trusted root: proto: syntax error (line 1:1): invalid value hello: give a trusted_root.json, as Sigstore's TUF repository serves it or cosign trusted-root create writes it\n"},
		{"trusted root without CA or log", []string{"--verify-image-identity", "a@example.com", "--verify-image-issuer", "https://issuer.example", "--trusted-root", empty},
			p + "--trusted-root " + empty + ": not a Sigstore trusted root for keyless signatures: it needs a Fulcio certificate authority and a Rekor log (0 and 0)\n"},
		{"identity without issuer", []string{"--verify-base-identity", "a@example.com", "--trusted-root", root},
			p + "--verify-base-identity needs --verify-base-issuer: the OIDC issuer its certificate names (cosign verify --certificate-oidc-issuer), e.g. https://token.actions.githubusercontent.com\n"},
		{"regexp without issuer", []string{"--verify-image-identity-regexp", "@example.com$", "--trusted-root", root},
			p + "--verify-image-identity-regexp needs --verify-image-issuer: the OIDC issuer its certificate names (cosign verify --certificate-oidc-issuer), e.g. https://token.actions.githubusercontent.com\n"},
		{"identity without trusted root", []string{"--verify-base-identity", "a@example.com", "--verify-base-issuer", "https://issuer.example"},
			p + "--verify-base-identity needs --trusted-root FILE: the Sigstore trusted root (trusted_root.json) its certificate and Rekor entry are verified against\n"},
		{"issuer without identity", []string{"--verify-base-issuer", "https://issuer.example", "--trusted-root", root},
			p + "--verify-base-issuer needs --verify-base-identity (or --verify-base-identity-regexp)\n"},
		{"identity and regexp", []string{"--verify-base-identity", "a@example.com", "--verify-base-identity-regexp", "a@", "--verify-base-issuer", "https://issuer.example", "--trusted-root", root},
			p + "--verify-base-identity and --verify-base-identity-regexp: give one\n"},
		{"trusted root alone", []string{"--trusted-root", root},
			p + "--trusted-root is read only with --verify-base-identity or --verify-image-identity\n"},
		{"key and identity", []string{"--verify-base-key", pub, "--verify-base-identity", "a@example.com", "--verify-base-issuer", "https://issuer.example", "--trusted-root", root},
			p + "--verify-base-key and --verify-base-identity: give one (a key, or a keyless identity)\n"},
		{"bad regexp", []string{"--verify-base-identity-regexp", "(", "--verify-base-issuer", "https://issuer.example", "--trusted-root", root},
			p + "--verify-base-identity-regexp: error parsing regexp: missing closing ): `(`\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			reg, _, _, _ := setup(t)
			reg.Reset()
			var out, errb strings.Builder
			code := runMain(append(append([]string{"crane-rebase-stream"}, c.args...), "-"), untouched{t}, &out, &errb)
			// protobuf's error texts put a space or, at random, a no-break
			// space after "proto:" (so that nobody depends on them): the
			// message is compared with either read as a space.
			got := strings.ReplaceAll(errb.String(), "proto:\u00a0", "proto: ")
			if code != exitUsage || out.Len() != 0 || got != c.want {
				t.Errorf("exit %d, stdout %q, stderr\n%q\nwant\n%q", code, out.String(), errb.String(), c.want)
			}
			if n := len(reg.Requests()); n != 0 {
				t.Errorf("%d registry requests before the flags were refused", n)
			}
		})
	}
}

// keylessSignRef signs ref's digest keyless as identity of issuer and
// returns the digest and the signature image's tag@digest.
func keylessSignRef(t *testing.T, ref string, s *keylesstest.Sigstore, identity, issuer string) (name.Digest, string) {
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
	p, err := provenance.SimpleSigning(d)
	if err != nil {
		t.Fatal(err)
	}
	ann, err := s.Sign(identity, issuer, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	img, err := keylesstest.Image(p, ann)
	if err != nil {
		t.Fatal(err)
	}
	tag := r.Context().Tag(rebase.CosignTag(desc.Digest, "sig"))
	if err := remote.Write(tag, img, remote.WithContext(ctx)); err != nil {
		t.Fatal(err)
	}
	sd, _ := img.Digest()
	return d, tag.String() + "@" + sd.String()
}

// --verify-base-identity rebases onto a base signed keyless by that
// identity; -v and the report name the signature and the certificate's
// identity; another identity is refused: echoed, exit 1.
func TestVerifyBaseIdentity(t *testing.T) {
	reg, app1, _, _ := setup(t)
	s, root := writeTrustedRoot(t)
	const id, iss = "https://github.com/example/base/.github/workflows/release.yaml@refs/heads/main", "https://token.actions.githubusercontent.com"
	base, sig := keylessSignRef(t, reg.Ref("base:stable"), s, id, iss)

	code, out, errs := runCmd(t, app1+"\n", "--verify-base-identity", "https://github.com/example/other/.github/workflows/release.yaml@refs/heads/main", "--verify-base-issuer", iss, "--trusted-root", root, "-")
	if code != exitFailed || out != app1+"\n" ||
		!strings.Contains(errs, ": refused: the new base "+reg.Ref("base:stable")+" is not trusted: its index "+base.DigestStr()+": a keyless signature that does not verify for https://github.com/example/other/.github/workflows/release.yaml@refs/heads/main issued by "+iss+" (") {
		t.Errorf("another identity: exit %d, stdout %q, stderr:\n%s", code, out, errs)
	}

	report := filepath.Join(t.TempDir(), "report.json")
	code, out, errs = runCmd(t, app1+"\n", "-v", "--verify-base-identity-regexp", `^https://github\.com/example/`, "--verify-base-issuer", iss, "--trusted-root", root, "--report", report, "-")
	if code != 0 || out == app1+"\n" {
		t.Fatalf("exit %d, stdout %q: %s", code, out, errs)
	}
	by := id + " (issuer " + iss + ")"
	wantVerifiedBase(t, errs, report, "crane-rebase-stream: "+app1+": verified base "+base.String()+": signature "+sig+", identity "+by+"\n", sig, by)
}
