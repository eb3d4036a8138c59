package provenance_test

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/rebasekit/rebasekit/pkg/provenance"
	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/sigstore/sigstore/pkg/signature"
)

// The golden signatures of testdata/trust were made by the real cosign
// (v2.6.5): the payloads by cosign generate registry.example/team/base@DIGEST,
// the signatures by cosign sign-blob --key a.key (or b.key, since deleted)
// --tlog-upload=false, as cosign sign signs the payload it pushes. a.key's
// password is "golden".
func trustFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "trust", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func trustKey(t *testing.T, name string) *provenance.PublicKey {
	t.Helper()
	k, err := provenance.LoadPublicKey(filepath.Join("testdata", "trust", name))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// sigLayer is a layer of a signature image as cosign pushes it.
func sigLayer(t *testing.T, payload, sig string) rebase.SignatureLayer {
	return rebase.SignatureLayer{
		MediaType:   provenance.SimpleSigningMediaType,
		Annotations: map[string]string{provenance.SignatureAnnotation: strings.TrimSpace(string(trustFile(t, sig)))},
		Payload:     trustFile(t, payload),
	}
}

func TestKeyVerifierGoldenSignatures(t *testing.T) {
	subject := name.MustParseReference("registry.example/team/base@" + digest).(name.Digest)
	a, b := trustKey(t, "a.pub"), trustKey(t, "b.pub")
	sigs := func(ls ...rebase.SignatureLayer) *rebase.Signatures {
		return &rebase.Signatures{Tag: subject.Context().Tag("sha256-4a3f.sig"), Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("e", 64)}, Layers: ls}
	}
	valid := sigLayer(t, "payload.json", "payload.a.sig")
	for _, tc := range []struct {
		name    string
		keys    provenance.KeyVerifier
		sigs    *rebase.Signatures
		wantErr error
		wantMsg string
		wantBy  string
	}{
		{name: "valid", keys: provenance.KeyVerifier{a}, sigs: sigs(valid), wantBy: a.Fingerprint},
		{name: "valid, second key", keys: provenance.KeyVerifier{b, a}, sigs: sigs(valid), wantBy: a.Fingerprint},
		{name: "valid after another key's", keys: provenance.KeyVerifier{a}, sigs: sigs(sigLayer(t, "payload.json", "payload.b.sig"), valid), wantBy: a.Fingerprint},
		{name: "another key", keys: provenance.KeyVerifier{a}, sigs: sigs(sigLayer(t, "payload.json", "payload.b.sig")), wantErr: rebase.ErrUntrustedKey,
			wantMsg: "a signature no given key verifies (registry.example/team/base:sha256-4a3f.sig@sha256:" + strings.Repeat("e", 64) + ": 1 signature(s), 1 key(s) given)"},
		{name: "payload for another digest", keys: provenance.KeyVerifier{a}, sigs: sigs(sigLayer(t, "other-payload.json", "other-payload.a.sig")), wantErr: rebase.ErrOtherDigest,
			wantMsg: "a signature for another digest (registry.example/team/base:sha256-4a3f.sig@sha256:" + strings.Repeat("e", 64) + " signs " + old + ")"},
		{name: "payload not the one signed", keys: provenance.KeyVerifier{a}, sigs: sigs(sigLayer(t, "payload.json", "other-payload.a.sig")), wantErr: rebase.ErrUntrustedKey},
		{name: "malformed payload", keys: provenance.KeyVerifier{a}, sigs: sigs(sigLayer(t, "malformed-payload.json", "malformed-payload.a.sig")), wantErr: provenance.ErrMalformedPayload,
			wantMsg: "a signature over a malformed payload (registry.example/team/base:sha256-4a3f.sig@sha256:" + strings.Repeat("e", 64) + ")"},
		{name: "no signature layer", keys: provenance.KeyVerifier{a}, sigs: sigs(rebase.SignatureLayer{MediaType: types.OCILayer, Payload: trustFile(t, "payload.json")}), wantErr: rebase.ErrNoSignature,
			wantMsg: "no signature (registry.example/team/base:sha256-4a3f.sig@sha256:" + strings.Repeat("e", 64) + " holds no simple-signing layer)"},
		{name: "payload without its annotation", keys: provenance.KeyVerifier{a}, sigs: sigs(rebase.SignatureLayer{MediaType: provenance.SimpleSigningMediaType, Payload: trustFile(t, "payload.json")}), wantErr: rebase.ErrNoSignature},
		{name: "empty signature image", keys: provenance.KeyVerifier{a}, sigs: sigs(), wantErr: rebase.ErrNoSignature},
		{name: "no tag", keys: provenance.KeyVerifier{a}, sigs: nil, wantErr: rebase.ErrNoSignature,
			wantMsg: "no signature (nothing at registry.example/team/base:sha256-4a3f0a5a2d8c4b5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6.sig)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			by, err := tc.keys.Verify(context.Background(), subject, tc.sigs)
			if tc.wantErr == nil {
				if err != nil || by != tc.wantBy {
					t.Fatalf("Verify = %q, %v; want %q", by, err, tc.wantBy)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) || by != "" {
				t.Fatalf("Verify = %q, %v; want %v", by, err, tc.wantErr)
			}
			if tc.wantMsg != "" && err.Error() != tc.wantMsg {
				t.Errorf("error:\ngot  %s\nwant %s", err, tc.wantMsg)
			}
		})
	}
}

// A key's fingerprint is the SHA-256 of its DER public key, what
// openssl pkey -pubin -in a.pub -outform DER | sha256sum prints.
func TestPublicKeyFingerprint(t *testing.T) {
	if got, want := trustKey(t, "a.pub").Fingerprint, "sha256:122fade2d35e7165921c419d2292f2a3965bef2d5911630d0c3e0f851e07ee10"; got != want {
		t.Errorf("fingerprint %s, want %s", got, want)
	}
}

func TestParsePublicKeyRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"cosign private key", string(trustFile(t, "a.key")), `a private key, not a public key (a PEM "ENCRYPTED SIGSTORE PRIVATE KEY" block)`},
		{"not PEM", "hello\n", "not a PEM public key"},
		{"PKCS#8 private key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", `a private key, not a public key (a PEM "PRIVATE KEY" block)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := provenance.ParsePublicKey([]byte(tc.in))
			if err == nil || err.Error() != tc.want {
				t.Errorf("ParsePublicKey: %v, want %q", err, tc.want)
			}
		})
	}
}

// RSA and Ed25519 public keys load too (sigstore's verifiers: RSA PKCS#1
// v1.5 with SHA-256, pure Ed25519) and verify what their private keys sign.
func TestKeyVerifierRSAAndEd25519(t *testing.T) {
	subject := name.MustParseReference("registry.example/team/base@" + digest).(name.Digest)
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, ek, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []crypto.Signer{rk, ek} {
		sv, err := signature.LoadSignerVerifier(k, crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKIXPublicKey(k.Public())
		if err != nil {
			t.Fatal(err)
		}
		pub, err := provenance.ParsePublicKey(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
		if err != nil {
			t.Fatalf("%T: %v", k, err)
		}
		p, sig, err := provenance.SignSimple(context.Background(), sv, subject)
		if err != nil {
			t.Fatal(err)
		}
		sigs := &rebase.Signatures{Tag: subject.Context().Tag("x.sig"), Layers: []rebase.SignatureLayer{{
			MediaType: provenance.SimpleSigningMediaType, Annotations: map[string]string{provenance.SignatureAnnotation: sig}, Payload: p}}}
		if by, err := (provenance.KeyVerifier{pub}).Verify(context.Background(), subject, sigs); err != nil || by != pub.Fingerprint {
			t.Errorf("%T: Verify = %q, %v", k, by, err)
		}
	}
}
