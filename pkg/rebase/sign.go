package rebase

import (
	"context"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"
)

// Signer makes the signatures and attestations of rebased images. The
// formats are the signer's (package provenance makes cosign's); pushing
// them is the engine's, with the same writer as the image: the same token,
// retries and request bound, into the image's own repository only, by tag.
type Signer interface {
	// Attachments returns what to attach to the plan's rebased image and
	// its rebased platform manifests (Plan.Subjects). It is called once the
	// image is written, never with dry run.
	Attachments(ctx context.Context, p *Plan) ([]Attachment, error)
}

// WithSigner signs (and attests) every image rebased, once it is written:
// a failure to sign fails the image (its line is echoed). Runs without a
// signer make no more requests than before.
func WithSigner(s Signer) Option { return func(o *options) { o.signer = s } }

// Attachment is one artifact pushed by tag next to a rebased image, such as
// a cosign signature or attestation image.
type Attachment struct {
	Kind ReferrerKind // Signature or Attestation
	Of   v1.Hash      // the digest it is attached to
	Tag  string       // the tag it is pushed as, in the image's repository
	// Image is the artifact, given what Tag names now (nil when it names
	// nothing): a signer appends to it, as cosign does, so that nobody's
	// signature of the same digest is lost.
	Image func(now v1.Image) (v1.Image, error)
}

// Signed is a signature or attestation pushed for a rebased image.
type Signed struct {
	Of     string       `json:"of"`   // the digest signed
	Kind   ReferrerKind `json:"kind"` // signature or attestation
	Tag    string       `json:"tag"`  // where it is: repo:sha256-<hex>.sig
	Digest string       `json:"digest,omitempty"`
}

// Subject is one manifest of a rebased image that gets signed: the index
// (Platform nil) or a rebased platform manifest.
type Subject struct {
	Digest   v1.Hash
	Platform *PlatformResult // nil for the index of a multi-platform image
	Image    v1.Image        // the rebased platform image; nil for the index
	// Kept is how many layers, on top of the new base's, are the image's
	// own, carried over unchanged.
	Kept int
	// OldBase and NewBase name the bases of a platform: the old base's
	// repository and the new base as resolved (a tag). Their platform
	// manifests' digests are in Platform.
	OldBase, NewBase string
}

// Subjects are the manifests a signer signs for a rebased plan: the index
// (what YAML pins) and each rebased platform manifest, as cosign sign
// --recursive does; platforms carried over unchanged keep the signatures
// they had. A single image is one subject.
func (p *Plan) Subjects() ([]Subject, error) {
	if p == nil || p.Action != Rebased {
		return nil, nil
	}
	var out []Subject
	if p.Index != nil {
		out = append(out, Subject{Digest: p.digest})
	}
	for _, pp := range p.platforms {
		s := Subject{Digest: pp.newDigest, Kept: pp.kept, Image: p.Image, OldBase: pp.oldBase, NewBase: pp.newBase}
		for i := range p.Platforms {
			if p.Platforms[i].NewDigest == pp.newDigest.String() {
				s.Platform = &p.Platforms[i]
			}
		}
		if p.Index != nil {
			img, err := p.Index.Image(pp.newDigest)
			if err != nil {
				return nil, err
			}
			s.Image = img
		}
		out = append(out, s)
	}
	return out, nil
}

// Repository is the repository of the plan's image, where everything is
// pushed.
func (p *Plan) Repository() string { return p.ref.Context().Name() }

// Attach asks the signer (WithSigner) for the signatures and attestations
// of a written plan and pushes them by tag into the image's repository. It
// records them in the plan's Result. Without a signer, or for a plan with
// nothing rebased, it does nothing.
func (r *Rebaser) Attach(ctx context.Context, p *Plan) error {
	if r.o.signer == nil || p == nil || p.Action != Rebased {
		return nil
	}
	as, err := r.o.signer.Attachments(ctx, p)
	if err != nil {
		return fmt.Errorf("signing %s: %w", p.digest, err)
	}
	repo := p.ref.Context()
	w, err := r.open(ctx, repo, mountSource(repo, p), true)
	if err != nil {
		return err
	}
	signed := make([]Signed, len(as))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.o.jobs)
	for i, a := range as {
		g.Go(func() error {
			d, err := r.attach(gctx, repo, w, a)
			if err != nil {
				return describe(fmt.Sprintf("pushed %s but pushing its %s %s", p.digest, a.Kind, repo.Tag(a.Tag)), err)
			}
			signed[i] = Signed{Of: a.Of.String(), Kind: a.Kind, Tag: repo.Tag(a.Tag).String(), Digest: d.String()}
			return nil
		})
	}
	err = g.Wait()
	for _, s := range signed {
		if s.Digest != "" { // only what was pushed, when some failed
			p.Signed = append(p.Signed, s)
		}
	}
	return err
}

// wouldAttach records, with dry run, what a signer would sign: cosign's
// tags, without digests (signatures are not deterministic).
func (r *Rebaser) wouldAttach(p *Plan) {
	if r.o.signer == nil {
		return
	}
	ss, err := p.Subjects()
	if err != nil {
		return
	}
	repo := p.ref.Context()
	for _, s := range ss {
		for _, k := range []struct {
			kind   ReferrerKind
			suffix string
		}{{Signature, "sig"}, {Attestation, "att"}} {
			p.Signed = append(p.Signed, Signed{Of: s.Digest.String(), Kind: k.kind, Tag: repo.Tag(CosignTag(s.Digest, k.suffix)).String()})
		}
	}
}

// CosignTag is the tag cosign gives what it attaches to digest d: sig,
// att or sbom, as in sha256-<hex>.sig.
func CosignTag(d v1.Hash, suffix string) string {
	return strings.Replace(d.String(), ":", "-", 1) + "." + suffix
}
