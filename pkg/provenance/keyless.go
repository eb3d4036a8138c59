package provenance

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/rebasekit/rebasekit/pkg/rebase"
	commonpb "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	rekorpb "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// The annotations of a keyless cosign signature layer, beside
// SignatureAnnotation: the Fulcio certificate, its chain, and the Rekor
// entry's signed entry timestamp (cosign's "bundle").
const (
	CertificateAnnotation = "dev.sigstore.cosign/certificate"
	ChainAnnotation       = "dev.sigstore.cosign/chain"
	BundleAnnotation      = "dev.sigstore.cosign/bundle"
)

// ErrUntrustedIdentity: a keyless signature that does not verify for the
// identity wanted against the trusted root.
var ErrUntrustedIdentity = errors.New("a keyless signature that does not verify")

// LoadTrustedRoot reads a Sigstore trusted root (trusted_root.json, as
// cosign trusted-root create writes it or Sigstore's TUF repository
// serves it): the Fulcio CAs and Rekor logs keyless signatures are
// verified against, offline.
func LoadTrustedRoot(path string) (root.TrustedMaterial, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	tr, err := root.NewTrustedRootFromJSON(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotTrustedRoot, err)
	}
	return tr, nil
}

// ErrNotTrustedRoot: a file that is not a Sigstore trusted root.
var ErrNotTrustedRoot = errors.New("not a Sigstore trusted root")

// KeylessVerifier trusts the keyless cosign signatures (a Fulcio
// certificate, logged in Rekor) of one identity, as cosign verify
// --certificate-identity --certificate-oidc-issuer does, offline: the
// certificate chains to a Fulcio CA of the trusted root valid when the
// entry was logged; its SAN and OIDC issuer are those wanted; the
// signature verifies over the payload with the certificate's key; the
// Rekor signed entry timestamp verifies with a log key of the trusted root,
// its entry is a hashedrekord of the payload's SHA-256, the signature and
// the certificate, and its integrated time lies within the certificate's
// validity. The chain annotation is not used: the intermediates are the
// trusted root's. Certificate transparency (SCTs) is not checked.
type KeylessVerifier struct {
	trusted  root.TrustedMaterial
	v        *verify.Verifier
	id       verify.CertificateIdentity
	identity string // as wanted, for messages
}

// NewKeylessVerifier trusts the signatures of the certificates whose SAN
// is identity (or, if identityRegexp is not empty, matches it) and whose
// OIDC issuer is issuer, chained to trusted.
func NewKeylessVerifier(trusted root.TrustedMaterial, identity, identityRegexp, issuer string) (*KeylessVerifier, error) {
	id, err := verify.NewShortCertificateIdentity(issuer, "", identity, identityRegexp)
	if err != nil {
		return nil, err
	}
	// The SET's integrated time is the time the certificate must be valid
	// at: a Fulcio certificate lives ten minutes.
	v, err := verify.NewVerifier(trusted, verify.WithTransparencyLog(1), verify.WithIntegratedTimestamps(1))
	if err != nil {
		return nil, err
	}
	want := identity
	if identityRegexp != "" {
		want = "matching " + identityRegexp
	}
	return &KeylessVerifier{trusted: trusted, v: v, id: id, identity: want + " issued by " + issuer}, nil
}

// Verify returns who signed subject, "<SAN> (issuer <issuer>)" of the
// certificate of a keyless signature in sigs that verifies and names
// subject's digest. Its error says what was missing (wrapping
// rebase.ErrNoSignature, rebase.ErrOtherDigest, ErrUntrustedIdentity or
// ErrMalformedPayload).
func (k *KeylessVerifier) Verify(ctx context.Context, subject name.Digest, sigs *rebase.Signatures) (string, error) {
	if sigs == nil {
		return "", nothingAt(subject)
	}
	var t tally
	var reasons []string
	for _, l := range sigs.Layers {
		if l.MediaType != SimpleSigningMediaType || l.Payload == nil || l.Annotations[CertificateAnnotation] == "" {
			continue
		}
		t.n++
		by, err := k.verifyLayer(l)
		if err != nil {
			reasons = append(reasons, err.Error())
			continue
		}
		if t.signs(l.Payload, subject) {
			return by, nil
		}
	}
	if t.n == 0 {
		return "", fmt.Errorf("%w (%s@%s holds no keyless signature: no simple-signing layer with a certificate)", rebase.ErrNoSignature, sigs.Tag, sigs.Digest)
	}
	return "", t.err(sigs, fmt.Errorf("%w for %s (%s@%s: %s)", ErrUntrustedIdentity, k.identity, sigs.Tag, sigs.Digest, strings.Join(reasons, "; ")))
}

// rekorBundle is cosign's bundle annotation: Rekor's signed entry
// timestamp over the entry it logged.
type rekorBundle struct {
	SignedEntryTimestamp []byte `json:"SignedEntryTimestamp"`
	Payload              struct {
		Body           string `json:"body"` // base64 of the entry
		IntegratedTime int64  `json:"integratedTime"`
		LogIndex       int64  `json:"logIndex"`
		LogID          string `json:"logID"` // hex
	} `json:"Payload"`
}

// hashedRekord is what of a hashedrekord entry is checked here: sigstore-go
// compares the signature and the key with the entry's, not the artifact's
// digest.
type hashedRekord struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Spec       struct {
		Data struct {
			Hash struct {
				Algorithm string `json:"algorithm"`
				Value     string `json:"value"`
			} `json:"hash"`
		} `json:"data"`
	} `json:"spec"`
}

// verifyLayer verifies one keyless signature layer, returning its signer.
func (k *KeylessVerifier) verifyLayer(l rebase.SignatureLayer) (string, error) {
	certs, err := cryptoutils.UnmarshalCertificatesFromPEM([]byte(l.Annotations[CertificateAnnotation]))
	if err != nil || len(certs) == 0 {
		return "", errors.New("its certificate is not a PEM certificate")
	}
	sig, err := base64.StdEncoding.DecodeString(l.Annotations[SignatureAnnotation])
	if err != nil || len(sig) == 0 {
		return "", errors.New("its signature is not base64")
	}
	raw, ok := l.Annotations[BundleAnnotation]
	if !ok {
		return "", errors.New("no Rekor bundle (the signature was not logged)")
	}
	var rb rekorBundle
	if err := json.Unmarshal([]byte(raw), &rb); err != nil {
		return "", fmt.Errorf("its Rekor bundle does not parse: %w", err)
	}
	body, err := base64.StdEncoding.DecodeString(rb.Payload.Body)
	if err != nil {
		return "", fmt.Errorf("its Rekor entry is not base64: %w", err)
	}
	logID, err := hex.DecodeString(rb.Payload.LogID)
	if err != nil {
		return "", fmt.Errorf("its Rekor log ID is not hex: %w", err)
	}
	var hr hashedRekord
	sum := sha256.Sum256(l.Payload)
	if err := json.Unmarshal(body, &hr); err != nil || hr.Kind != "hashedrekord" || hr.Spec.Data.Hash.Algorithm != "sha256" || hr.Spec.Data.Hash.Value != hex.EncodeToString(sum[:]) {
		return "", errors.New("its Rekor entry is not a hashedrekord of the payload's sha256")
	}
	entry, err := tlog.ParseTransparencyLogEntry(&rekorpb.TransparencyLogEntry{
		LogIndex:          rb.Payload.LogIndex,
		LogId:             &commonpb.LogId{KeyId: logID},
		KindVersion:       &rekorpb.KindVersion{Kind: hr.Kind, Version: hr.APIVersion},
		IntegratedTime:    rb.Payload.IntegratedTime,
		InclusionPromise:  &rekorpb.InclusionPromise{SignedEntryTimestamp: rb.SignedEntryTimestamp},
		CanonicalizedBody: body,
	})
	if err != nil {
		return "", fmt.Errorf("its Rekor entry: %w", err)
	}
	// sigstore-go skips an entry whose SET does not verify, saying only
	// that too few did: say why.
	if err := tlog.VerifySET(entry, k.trusted.RekorLogs()); err != nil {
		return "", fmt.Errorf("its Rekor entry's signed timestamp does not verify with the trusted root's logs: %w", err)
	}
	e := &keylessEntity{cert: bundle.NewCertificate(certs[0]), sig: bundle.NewMessageSignature(sum[:], "SHA2_256", sig), entry: entry}
	res, err := k.v.Verify(e, verify.NewPolicy(verify.WithArtifact(bytes.NewReader(l.Payload)), verify.WithCertificateIdentity(k.id)))
	if err != nil {
		return "", err
	}
	c := res.Signature.Certificate
	return c.SubjectAlternativeName + " (issuer " + c.Issuer + ")", nil
}

// keylessEntity is a cosign keyless signature layer as sigstore-go
// verifies a bundle: a message signature, its certificate and its Rekor
// entry (an inclusion promise, no proof), no signed timestamps.
type keylessEntity struct {
	cert  *bundle.Certificate
	sig   *bundle.MessageSignature
	entry *tlog.Entry
}

func (e *keylessEntity) HasInclusionPromise() bool { return true }
func (e *keylessEntity) HasInclusionProof() bool   { return false }
func (e *keylessEntity) SignatureContent() (verify.SignatureContent, error) {
	return e.sig, nil
}
func (e *keylessEntity) Timestamps() ([][]byte, error)       { return nil, nil }
func (e *keylessEntity) TlogEntries() ([]*tlog.Entry, error) { return []*tlog.Entry{e.entry}, nil }
func (e *keylessEntity) VerificationContent() (verify.VerificationContent, error) {
	return e.cert, nil
}

// Version is that of the bundles cosign's annotations stand for (v0.1: a
// signed entry timestamp without an inclusion proof).
func (e *keylessEntity) Version() (string, error) { return "v0.1", nil }
