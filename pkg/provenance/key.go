// Package provenance signs rebased images and attests what the rebase did,
// in cosign's formats, so that cosign (and the admission controllers built
// on it: Kyverno, sigstore policy-controller, Connaisseur) verifies them:
//
//   - a signature: the simple-signing payload of the digest, in the image
//     cosign keeps at the sha256-<hex>.sig tag;
//   - an attestation: an in-toto statement with a SLSA provenance v1
//     predicate of build type BuildType, in a DSSE envelope, in the image
//     cosign keeps at the sha256-<hex>.att tag.
//
// Keys, payloads and envelopes come from the sigstore project's own
// libraries; a Signer plugs into the engine (rebase.WithSigner), which
// pushes what it makes. Nothing here changes the image signed.
package provenance

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
	"github.com/sigstore/sigstore/pkg/signature"
)

// The PEM types of cosign's encrypted key files (cosign generate-key-pair).
const (
	cosignKeyType   = "ENCRYPTED COSIGN PRIVATE KEY"
	sigstoreKeyType = "ENCRYPTED SIGSTORE PRIVATE KEY"
	pkcs8KeyType    = "PRIVATE KEY"
)

// ErrWrongPassword: the password does not decrypt the key file.
var ErrWrongPassword = errors.New("wrong password: it does not decrypt the key")

// LoadKey reads a signing key: a cosign key pair's private key file
// (encrypted, decrypted with password, as cosign does) or an unencrypted PEM
// PKCS#8 ECDSA P-256 key (password unused). Only ECDSA P-256 keys are taken:
// cosign's own, and what cosign verify checks without extra flags.
func LoadKey(path string, password []byte) (signature.SignerVerifier, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseKey(b, password)
}

// ParseKey is LoadKey on the file's bytes.
func ParseKey(b, password []byte) (signature.SignerVerifier, error) {
	p, _ := pem.Decode(b)
	if p == nil {
		return nil, errors.New("not a PEM key file")
	}
	der := p.Bytes
	switch p.Type {
	case cosignKeyType, sigstoreKeyType:
		d, err := encrypted.Decrypt(p.Bytes, password)
		if err != nil {
			if err.Error() == "encrypted: decryption failed" {
				return nil, ErrWrongPassword
			}
			return nil, fmt.Errorf("decrypting the key: %w", err)
		}
		der = d
	case pkcs8KeyType:
	default:
		return nil, fmt.Errorf("a PEM %q block: want a cosign key (%q) or a PKCS#8 ECDSA P-256 key (%q)", p.Type, cosignKeyType, pkcs8KeyType)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parsing the private key: %w", err)
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("a %s key: only ECDSA P-256 keys sign (what cosign generate-key-pair makes)", keyKind(k))
	}
	return signature.LoadDefaultSignerVerifier(ec)
}

func keyKind(k any) string {
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return "RSA"
	case ed25519.PrivateKey:
		return "Ed25519"
	case *ecdsa.PrivateKey:
		return "ECDSA " + k.Curve.Params().Name
	default:
		return fmt.Sprintf("%T", k)
	}
}
