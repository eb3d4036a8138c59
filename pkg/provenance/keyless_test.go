package provenance_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/rebasekit/rebasekit/pkg/provenance"
	"github.com/rebasekit/rebasekit/pkg/provenance/keylesstest"
	"github.com/rebasekit/rebasekit/pkg/rebase"
)

const (
	identity = "builder@example.com"
	issuer   = "https://issuer.example"
)

// loadRoot writes s's trusted root (with caOf's Fulcio CA) and reads it
// back as --trusted-root does.
func loadRoot(t *testing.T, s, caOf *keylesstest.Sigstore) *provenance.KeylessVerifier {
	t.Helper()
	return loadRootFor(t, s, caOf, identity, "", issuer)
}

func loadRootFor(t *testing.T, s, caOf *keylesstest.Sigstore, id, idRegexp, iss string) *provenance.KeylessVerifier {
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
	k, err := provenance.NewKeylessVerifier(tr, id, idRegexp, iss)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newSigstore(t *testing.T) *keylesstest.Sigstore {
	t.Helper()
	s, err := keylesstest.New()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A keyless signature verifies when its certificate chains to the trusted
// root's Fulcio CA, names the identity and issuer wanted, its signature
// verifies over the payload, the payload names the subject, and its Rekor
// entry's signed timestamp verifies with the trusted root's log key.
// Each of those missing is a refusal saying so.
func TestKeylessVerifier(t *testing.T) {
	ctx := context.Background()
	s, other := newSigstore(t), newSigstore(t)
	subject := name.MustParseReference("registry.example/team/base@" + digest).(name.Digest)
	otherSubject := name.MustParseReference("registry.example/team/base@" + old).(name.Digest)
	payload, err := provenance.SimpleSigning(subject)
	if err != nil {
		t.Fatal(err)
	}
	otherPayload, _ := provenance.SimpleSigning(otherSubject)
	tag := subject.Context().Tag("sha256-4a3f.sig")
	sigDigest := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("e", 64)}
	at := tag.String() + "@" + sigDigest.String()
	layer := func(s *keylesstest.Sigstore, id, iss string, p []byte, tamper func([]byte)) rebase.SignatureLayer {
		ann, err := s.Sign(id, iss, p, tamper)
		if err != nil {
			t.Fatal(err)
		}
		return rebase.SignatureLayer{MediaType: provenance.SimpleSigningMediaType, Annotations: ann, Payload: p}
	}
	sigs := func(ls ...rebase.SignatureLayer) *rebase.Signatures {
		return &rebase.Signatures{Tag: tag, Digest: sigDigest, Layers: ls}
	}
	trusted := loadRoot(t, s, nil)
	valid := layer(s, identity, issuer, payload, nil)
	for _, tc := range []struct {
		name    string
		k       *provenance.KeylessVerifier
		sigs    *rebase.Signatures
		wantErr error
		wantMsg string
	}{
		{name: "valid", k: trusted, sigs: sigs(valid)},
		{name: "valid, identity by regexp", k: loadRootFor(t, s, nil, "", `^[a-z]+@example\.com$`, issuer), sigs: sigs(valid)},
		{name: "valid after a key signature", k: trusted, sigs: sigs(sigLayer(t, "payload.json", "payload.a.sig"), valid)},
		{name: "wrong identity", k: trusted, sigs: sigs(layer(s, "mallory@example.com", issuer, payload, nil)), wantErr: provenance.ErrUntrustedIdentity, wantMsg: "a keyless signature that does not verify for builder@example.com issued by https://issuer.example (" + at + ": failed to verify certificate identity: no matching CertificateIdentity found, last error: expected SAN value \"builder@example.com\", got \"mallory@example.com\")"},
		{name: "identity not matching the regexp", k: loadRootFor(t, s, nil, "", `^[a-z]+@example\.org$`, issuer), sigs: sigs(valid), wantErr: provenance.ErrUntrustedIdentity, wantMsg: "a keyless signature that does not verify for matching ^[a-z]+@example\\.org$ issued by https://issuer.example (" + at + ": failed to verify certificate identity: no matching CertificateIdentity found, last error: expected SAN value to match regex \"^[a-z]+@example\\.org$\", got \"builder@example.com\")"},
		{name: "wrong issuer", k: trusted, sigs: sigs(layer(s, identity, "https://other.example", payload, nil)), wantErr: provenance.ErrUntrustedIdentity, wantMsg: "a keyless signature that does not verify for builder@example.com issued by https://issuer.example (" + at + ": failed to verify certificate identity: no matching CertificateIdentity found, last error: expected issuer value \"https://issuer.example\", got \"https://other.example\")"},
		{name: "certificate from another CA", k: loadRoot(t, other, s), sigs: sigs(layer(other, identity, issuer, payload, nil)), wantErr: provenance.ErrUntrustedIdentity, wantMsg: "a keyless signature that does not verify for builder@example.com issued by https://issuer.example (" + at + ": failed to verify leaf certificate: leaf certificate verification failed)"},
		{name: "logged in another log", k: trusted, sigs: sigs(layer(other, identity, issuer, payload, nil)), wantErr: provenance.ErrUntrustedIdentity, wantMsg: "a keyless signature that does not verify for builder@example.com issued by https://issuer.example (" + at + ": its Rekor entry's signed timestamp does not verify with the trusted root's logs: rekor log public key not found for payload)"},
		{name: "tampered SET", k: trusted, sigs: sigs(layer(s, identity, issuer, payload, func(set []byte) { set[len(set)/2] ^= 1 })), wantErr: provenance.ErrUntrustedIdentity, wantMsg: "a keyless signature that does not verify for builder@example.com issued by https://issuer.example (" + at + ": its Rekor entry's signed timestamp does not verify with the trusted root's logs: unable to verify SET)"},
		{name: "logged after the certificate expired", k: trusted, sigs: sigs(func() rebase.SignatureLayer {
			ann, err := s.SignAt(identity, issuer, payload, time.Now().Add(20*time.Minute), nil)
			if err != nil {
				t.Fatal(err)
			}
			return rebase.SignatureLayer{MediaType: provenance.SimpleSigningMediaType, Annotations: ann, Payload: payload}
		}()), wantErr: provenance.ErrUntrustedIdentity, wantMsg: "a keyless signature that does not verify for builder@example.com issued by https://issuer.example (" + at + ": failed to verify log inclusion: integrated time outside certificate validity)"},
		{name: "payload for another digest", k: trusted, sigs: sigs(layer(s, identity, issuer, otherPayload, nil)), wantErr: rebase.ErrOtherDigest,
			wantMsg: "a signature for another digest (" + at + " signs " + old + ")"},
		{name: "payload not the one signed", k: trusted, sigs: sigs(func() rebase.SignatureLayer {
			l := layer(s, identity, issuer, otherPayload, nil)
			l.Payload = payload
			return l
		}()), wantErr: provenance.ErrUntrustedIdentity, wantMsg: "a keyless signature that does not verify for builder@example.com issued by https://issuer.example (" + at + ": its Rekor entry is not a hashedrekord of the payload's sha256)"},
		{name: "not logged", k: trusted, sigs: sigs(func() rebase.SignatureLayer {
			l := layer(s, identity, issuer, payload, nil)
			delete(l.Annotations, provenance.BundleAnnotation)
			return l
		}()), wantErr: provenance.ErrUntrustedIdentity, wantMsg: "a keyless signature that does not verify for builder@example.com issued by https://issuer.example (" + at + ": no Rekor bundle (the signature was not logged))"},
		{name: "key signatures only", k: trusted, sigs: sigs(sigLayer(t, "payload.json", "payload.a.sig")), wantErr: rebase.ErrNoSignature, wantMsg: "no signature (" + at + " holds no keyless signature: no simple-signing layer with a certificate)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			by, err := tc.k.Verify(ctx, subject, tc.sigs)
			if tc.wantErr == nil {
				if err != nil || by != identity+" (issuer "+issuer+")" {
					t.Fatalf("by %q, err %v", by, err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) || err.Error() != tc.wantMsg {
				t.Errorf("by %q, err\n%v\nwant %v:\n%s", by, err, tc.wantErr, tc.wantMsg)
			}
		})
	}
}
