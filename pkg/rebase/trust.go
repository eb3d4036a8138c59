package rebase

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Verifier decides whether a signature image (what cosign keeps at an
// image's sha256-<hex>.sig tag) holds a signature of subject it trusts. The
// engine reads the signature image (one manifest GET and its payloads);
// the verifier judges it (package provenance verifies cosign's signatures
// with public keys). A rebase onto a base, or of an image, nobody trusted
// would otherwise be signed by WithSigner as if it were trusted.
type Verifier interface {
	// Verify returns who signed subject (its key's fingerprint) or an
	// error saying what was missing: a *TrustError's Reason is worded for
	// a person. sigs is nil when the tag names nothing.
	Verify(ctx context.Context, subject name.Digest, sigs *Signatures) (by string, err error)
}

// Signatures is the signature image at a cosign .sig tag: its manifest's
// digest and its layers, payloads read and digested as received.
type Signatures struct {
	Tag    name.Tag
	Digest v1.Hash // of the signature image's manifest
	Layers []SignatureLayer
}

// SignatureLayer is one layer of a signature image.
type SignatureLayer struct {
	MediaType   types.MediaType
	Annotations map[string]string
	Payload     []byte // read only for cosign's simple-signing layers
}

// Verified records a signature that was verified before a rebase.
type Verified struct {
	Role      string `json:"role"`      // "base" (the new base) or "image" (the input)
	Subject   string `json:"subject"`   // repo@digest of what was signed
	Signature string `json:"signature"` // repo:sha256-<hex>.sig@sha256:... (the signature image)
	By        string `json:"by"`        // the verifier: a key's fingerprint, sha256:<hex> of its DER public key
}

// Roles of a Verified.
const (
	RoleBase  = "base"
	RoleImage = "image"
)

// TrustError is a refusal: subject carries no signature a verifier
// trusts. The line is echoed; nothing is pushed.
type TrustError struct {
	Role    string // RoleBase or RoleImage
	Subject string // repo@digest, or the base's name and digest
	Reason  string // what was missing
}

func (e *TrustError) Error() string {
	what := "new base"
	if e.Role == RoleImage {
		what = "image"
	}
	return fmt.Sprintf("refused: the %s %s is not trusted: %s", what, e.Subject, e.Reason)
}

// ErrNoSignature, ErrOtherDigest and ErrUntrustedKey are what a Verifier
// says (wrapped) of a signature image that holds no signature, only
// signatures of another digest, or signatures no key of its verifies.
var (
	ErrNoSignature  = errors.New("no signature")
	ErrOtherDigest  = errors.New("a signature for another digest")
	ErrUntrustedKey = errors.New("a signature no given key verifies")
)

// WithBaseVerifier verifies every new base before an image is planned onto
// it (and the base of an up-to-date image, the base it is on): the base as
// resolved, its index or its platform manifest, must carry a signature v
// trusts, else the line is refused. Each base is verified once per run.
func WithBaseVerifier(v Verifier) Option { return func(o *options) { o.baseVerifier = v } }

// WithImageVerifier verifies every input image that would be rebased (its
// digest as given: the index for a multi-platform image), before anything
// is pushed or signed: it must carry a signature v trusts, else the line is
// refused, so that a rebase never makes an image nobody trusted into one
// signed by WithSigner.
func WithImageVerifier(v Verifier) Option { return func(o *options) { o.imageVerifier = v } }

// maxSignatureLayers bounds the payloads read from one signature image.
const maxSignatureLayers = 64

// simpleSigningType is cosign's payload media type: the only layers whose
// payloads are read.
const simpleSigningType types.MediaType = "application/vnd.dev.cosign.simplesigning.v1+json"

// verdict is the outcome of one verification, memoised per run.
type verdict struct {
	v   Verified
	err error
}

// verify checks, once per run and role, the signatures of repo@d.
func (r *Rebaser) verify(ctx context.Context, role string, v Verifier, repo name.Repository, d v1.Hash) (*verdict, error) {
	subject := repo.Digest(d.String())
	return r.verdicts.get(ctx, role+" "+subject.String(), func(ctx context.Context) (*verdict, error) {
		sigs, err := r.signatures(ctx, repo, d)
		if err != nil {
			return nil, err // a registry failure: not memoised as a verdict
		}
		by, err := v.Verify(ctx, subject, sigs)
		if err != nil {
			return &verdict{err: err}, nil
		}
		return &verdict{v: Verified{Role: role, Subject: subject.String(), Signature: sigs.Tag.String() + "@" + sigs.Digest.String(), By: by}}, nil
	})
}

// signatures reads the signature image of repo@d, nil when there is none.
func (r *Rebaser) signatures(ctx context.Context, repo name.Repository, d v1.Hash) (*Signatures, error) {
	tag := repo.Tag(CosignTag(d, "sig"))
	raw, desc, err := r.src.Manifest(ctx, tag)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, describe("signature "+tag.String(), err)
	}
	s := &Signatures{Tag: tag, Digest: desc.Digest}
	if !desc.MediaType.IsImage() {
		return s, nil // an index (or anything else) holds no signature layer
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return s, nil
	}
	for i, l := range m.Layers {
		if i == maxSignatureLayers {
			break
		}
		sl := SignatureLayer{MediaType: l.MediaType, Annotations: l.Annotations}
		if l.MediaType == simpleSigningType {
			b, err := r.src.Blob(ctx, repo.Digest(l.Digest.String()), maxConfigSize+1)
			if err != nil {
				return nil, describe("signature payload "+l.Digest.String(), err)
			}
			if got, _, _ := v1.SHA256(bytes.NewReader(b)); got != l.Digest {
				return nil, fmt.Errorf("signature %s: payload %s has digest %s", tag, l.Digest, got)
			}
			sl.Payload = b
		}
		s.Layers = append(s.Layers, sl)
	}
	return s, nil
}

// trustBase verifies the new base b resolved as newBase: a signature of its
// index, or else of platformDigest (the platform manifest used), must
// verify. It records what was verified in p.
func (r *Rebaser) trustBase(ctx context.Context, p *platformPlan, b name.Reference, newBase *fetched, platformDigest v1.Hash) error {
	if r.o.baseVerifier == nil {
		return nil
	}
	repo := b.Context()
	ds := []v1.Hash{newBase.digest}
	if platformDigest != (v1.Hash{}) && platformDigest != newBase.digest {
		ds = append(ds, platformDigest)
	}
	var reasons []string
	for i, d := range ds {
		vd, err := r.verify(ctx, RoleBase, r.o.baseVerifier, repo, d)
		if err != nil {
			return err
		}
		if vd.err == nil {
			v := vd.v
			p.res.Verified = &v
			return nil
		}
		what := "its index " + d.String()
		if len(ds) == 1 {
			what = d.String()
		} else if i > 0 {
			what = "its " + p.res.Platform + " manifest " + d.String()
		}
		reasons = append(reasons, what+": "+vd.err.Error())
	}
	return &TrustError{Role: RoleBase, Subject: b.String(), Reason: strings.Join(reasons, "; ")}
}

// trustImage verifies the input of a plan that would be rebased.
func (r *Rebaser) trustImage(ctx context.Context, p *Plan) error {
	if r.o.imageVerifier == nil {
		return nil
	}
	vd, err := r.verify(ctx, RoleImage, r.o.imageVerifier, p.ref.Context(), p.top.digest)
	if err != nil {
		return err
	}
	if vd.err != nil {
		return &TrustError{Role: RoleImage, Subject: p.ref.Context().Digest(p.top.digest.String()).String(), Reason: vd.err.Error()}
	}
	p.Verified = append(p.Verified, vd.v)
	return nil
}

// gatherVerified lists in the plan's result the base signatures its
// platforms verified, each once.
func (p *Plan) gatherVerified() {
	seen := map[string]bool{}
	for _, v := range p.Verified {
		seen[v.Role+v.Signature] = true
	}
	for _, pr := range p.Platforms {
		if v := pr.Verified; v != nil && !seen[v.Role+v.Signature] {
			seen[v.Role+v.Signature] = true
			p.Verified = append(p.Verified, *v)
		}
	}
}

// upDigest is the digest stillCurrent found, or none.
func upDigest(s string) v1.Hash {
	h, _ := v1.NewHash(s)
	return h
}
