package provenance

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	sigopts "github.com/sigstore/sigstore/pkg/signature/options"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

// ErrPrivateKey: a private key was given where a public key is wanted.
var ErrPrivateKey = errors.New("a private key, not a public key")

// ErrMalformedPayload: a signature verifies, but over a payload that is not
// cosign's simple signing of an image.
var ErrMalformedPayload = errors.New("a signature over a malformed payload")

// PublicKey verifies cosign signatures made with its private key.
type PublicKey struct {
	v signature.Verifier
	// Fingerprint names the key: "sha256:" and the hex SHA-256 of its
	// DER (PKIX) encoding, as Sigstore names keys in its trusted roots
	// (openssl pkey -pubin -in cosign.pub -outform DER | sha256sum).
	Fingerprint string
}

// LoadPublicKey reads a public key: cosign.pub as cosign generate-key-pair
// (or cosign public-key) writes it, a PEM "PUBLIC KEY" block of an ECDSA,
// RSA or Ed25519 key.
func LoadPublicKey(path string) (*PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParsePublicKey(b)
}

// ParsePublicKey is LoadPublicKey on the file's bytes.
func ParsePublicKey(b []byte) (*PublicKey, error) {
	p, _ := pem.Decode(b)
	if p == nil {
		return nil, errors.New("not a PEM public key")
	}
	if strings.Contains(p.Type, "PRIVATE KEY") {
		return nil, fmt.Errorf("%w (a PEM %q block)", ErrPrivateKey, p.Type)
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("parsing the public key: %w", err)
	}
	v, err := signature.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("loading the public key: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(der)
	return &PublicKey{v: v, Fingerprint: "sha256:" + hex.EncodeToString(sum[:])}, nil
}

// KeyVerifier trusts the cosign signatures any of its keys verifies: a
// rebase.Verifier, as cosign verify --key checks a signature, offline (no
// transparency log).
type KeyVerifier []*PublicKey

// Verify returns the fingerprint of the key that verifies a signature of
// subject in sigs: a simple-signing layer whose signature annotation
// verifies over its payload, and whose payload names subject's digest.
// Its error says what was missing (wrapping rebase.ErrNoSignature,
// rebase.ErrOtherDigest, rebase.ErrUntrustedKey or ErrMalformedPayload).
func (ks KeyVerifier) Verify(ctx context.Context, subject name.Digest, sigs *rebase.Signatures) (string, error) {
	if sigs == nil {
		return "", nothingAt(subject)
	}
	var t tally
	for _, l := range sigs.Layers {
		b64, ok := l.Annotations[SignatureAnnotation]
		if l.MediaType != SimpleSigningMediaType || !ok || l.Payload == nil {
			continue
		}
		t.n++
		sig, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			continue // not a signature: no key verifies it
		}
		for _, k := range ks {
			if k.v.VerifySignature(bytes.NewReader(sig), bytes.NewReader(l.Payload), sigopts.WithContext(ctx)) != nil {
				continue
			}
			if t.signs(l.Payload, subject) {
				return k.Fingerprint, nil
			}
		}
	}
	if t.n == 0 {
		return "", fmt.Errorf("%w (%s@%s holds no simple-signing layer)", rebase.ErrNoSignature, sigs.Tag, sigs.Digest)
	}
	return "", t.err(sigs, fmt.Errorf("%w (%s@%s: %d signature(s), %d key(s) given)", rebase.ErrUntrustedKey, sigs.Tag, sigs.Digest, t.n, len(ks)))
}

// tally is what the signature layers of a .sig tag said, for the error
// when none verified for the subject: how many there were, the digests the
// verified ones signed instead, and whether one's payload was malformed.
type tally struct {
	n         int
	other     []string
	malformed bool
}

// signs reports whether payload, verified, signs subject; otherwise it
// notes what it signs instead.
func (t *tally) signs(payload []byte, subject name.Digest) bool {
	d, ok := signedDigest(payload)
	switch {
	case !ok:
		t.malformed = true
	case d != subject.DigestStr():
		t.other = append(t.other, d)
	default:
		return true
	}
	return false
}

// err says why no signature would do: verified ones for another digest,
// then a malformed payload, else untrusted (no key or identity verified one).
func (t *tally) err(sigs *rebase.Signatures, untrusted error) error {
	switch {
	case len(t.other) > 0:
		return fmt.Errorf("%w (%s@%s signs %s)", rebase.ErrOtherDigest, sigs.Tag, sigs.Digest, strings.Join(t.other, ", "))
	case t.malformed:
		return fmt.Errorf("%w (%s@%s)", ErrMalformedPayload, sigs.Tag, sigs.Digest)
	}
	return untrusted
}

// verified is what the engine verified, for the provenance.
func verified(vs []rebase.Verified) []Verified {
	var out []Verified
	for _, v := range vs {
		out = append(out, Verified{Role: v.Role, Subject: v.Subject, Signature: v.Signature, By: v.By})
	}
	return out
}

// verifiedList is the provenance's internalParameters.verified: one object
// per signature verified, {role, subject, signature, verifier}.
func verifiedList(vs []Verified) []any {
	if len(vs) == 0 {
		return nil
	}
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = map[string]any{"role": v.Role, "subject": v.Subject, "signature": v.Signature, "verifier": v.By}
	}
	return out
}

// nothingAt is the error for a subject with no .sig tag at all.
func nothingAt(subject name.Digest) error {
	tag := subject.Context().Tag(strings.Replace(subject.DigestStr(), ":", "-", 1) + ".sig")
	return fmt.Errorf("%w (nothing at %s)", rebase.ErrNoSignature, tag)
}

// signedDigest is the manifest digest a cosign simple-signing payload
// signs; false when the payload is not one.
func signedDigest(b []byte) (string, bool) {
	var p payload.SimpleContainerImage
	if err := json.Unmarshal(b, &p); err != nil || p.Critical.Type != payload.CosignSignatureType || p.Critical.Image.DockerManifestDigest == "" {
		return "", false
	}
	return p.Critical.Image.DockerManifestDigest, true
}
