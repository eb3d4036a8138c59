// Package keylesstest makes cosign keyless signatures for tests: a Fulcio
// CA, a Rekor log and their trusted root (sigstore-go's virtual Sigstore),
// and signature layers annotated as cosign sign pushes them after a keyless
// signing (certificate, chain, Rekor bundle, signature).
package keylesstest

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/rebasekit/rebasekit/pkg/provenance"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// Sigstore is a Fulcio CA and a Rekor log made for a test.
type Sigstore struct{ *ca.VirtualSigstore }

// New makes a Sigstore.
func New() (*Sigstore, error) {
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		return nil, err
	}
	return &Sigstore{vs}, nil
}

// TrustedRoot is the trusted root JSON of s's Fulcio CA (or of caOf's, if
// given) and of s's Rekor log, as --trusted-root reads it.
func (s *Sigstore) TrustedRoot(caOf *Sigstore) ([]byte, error) {
	if caOf == nil {
		caOf = s
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, caOf.FulcioCertificateAuthorities(), rawIDs(s.CTLogs()), nil, rawIDs(s.RekorLogs()))
	if err != nil {
		return nil, err
	}
	return tr.MarshalJSON()
}

// rawIDs gives the virtual Sigstore's logs their IDs as a real trusted root
// has them: the SHA-256 of the log's key (it has the hex of it).
func rawIDs(logs map[string]*root.TransparencyLog) map[string]*root.TransparencyLog {
	out := map[string]*root.TransparencyLog{}
	for k, l := range logs {
		c := *l
		if id, err := hex.DecodeString(string(l.ID)); err == nil {
			c.ID = id
		}
		out[k] = &c
	}
	return out
}

// rekorBundle is cosign's dev.sigstore.cosign/bundle annotation.
type rekorBundle struct {
	SignedEntryTimestamp []byte `json:"SignedEntryTimestamp"`
	Payload              struct {
		Body           string `json:"body"`
		IntegratedTime int64  `json:"integratedTime"`
		LogIndex       int64  `json:"logIndex"`
		LogID          string `json:"logID"`
	} `json:"Payload"`
}

// Sign signs payload keyless, as identity of issuer, and returns the
// annotations cosign gives its layer. tamper, if not nil, changes the
// Rekor bundle before it is encoded.
func (s *Sigstore) Sign(identity, issuer string, payload []byte, tamper func(set []byte)) (map[string]string, error) {
	// Within the ten minutes of the certificate, as the virtual Sigstore
	// signs.
	return s.SignAt(identity, issuer, payload, time.Now().Add(5*time.Minute), tamper)
}

// SignAt is Sign with the entry logged at integratedTime.
func (s *Sigstore) SignAt(identity, issuer string, payload []byte, integratedTime time.Time, tamper func(set []byte)) (map[string]string, error) {
	e, err := s.VirtualSigstore.SignAtTime(identity, issuer, payload, integratedTime)
	if err != nil {
		return nil, err
	}
	vc, _ := e.VerificationContent()
	sc, _ := e.SignatureContent()
	entries, _ := e.TlogEntries()
	if len(entries) != 1 {
		return nil, fmt.Errorf("%d tlog entries", len(entries))
	}
	leaf, err := cryptoutils.MarshalCertificateToPEM(vc.Certificate())
	if err != nil {
		return nil, err
	}
	fca := s.FulcioCertificateAuthorities()[0].(*root.FulcioCertificateAuthority)
	chain, err := cryptoutils.MarshalCertificatesToPEM(append(fca.Intermediates, fca.Root))
	if err != nil {
		return nil, err
	}
	tle := entries[0].TransparencyLogEntry()
	var b rekorBundle
	b.Payload.Body = base64.StdEncoding.EncodeToString(tle.GetCanonicalizedBody())
	b.Payload.IntegratedTime = tle.GetIntegratedTime()
	b.Payload.LogIndex = tle.GetLogIndex()
	b.Payload.LogID = hex.EncodeToString(tle.GetLogId().GetKeyId())
	// The entry keeps its signed entry timestamp to itself: sign it again
	// (the same bytes, the SET is deterministic over the payload).
	b.SignedEntryTimestamp, err = s.RekorSignPayload(tlog.RekorPayload{Body: b.Payload.Body, IntegratedTime: b.Payload.IntegratedTime, LogIndex: b.Payload.LogIndex, LogID: b.Payload.LogID})
	if err != nil {
		return nil, err
	}
	if tamper != nil {
		tamper(b.SignedEntryTimestamp)
	}
	bj, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	return map[string]string{
		provenance.SignatureAnnotation:   base64.StdEncoding.EncodeToString(sc.Signature()),
		provenance.CertificateAnnotation: string(leaf),
		provenance.ChainAnnotation:       string(chain),
		provenance.BundleAnnotation:      string(bj),
	}, nil
}

// Image is a signature image (what a .sig tag names) of one layer, payload,
// annotated with ann.
func Image(payload []byte, ann map[string]string) (v1.Image, error) {
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	return mutate.Append(img, mutate.Addendum{Layer: static.NewLayer(payload, provenance.SimpleSigningMediaType), Annotations: ann})
}
