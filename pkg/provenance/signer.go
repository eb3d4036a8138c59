package provenance

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	imagespec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/sigstore/sigstore/pkg/signature"
)

// Signer signs rebased images with a key and attests their rebase: a
// rebase.Signer for rebase.WithSigner.
type Signer struct {
	sv      signature.Signer
	version string
}

// NewSigner signs with sv; version is the builder's version recorded in the
// provenance.
func NewSigner(sv signature.Signer, version string) *Signer {
	return &Signer{sv: sv, version: version}
}

// Attachments are, for each subject of the plan (the index and each rebased
// platform manifest), a cosign signature and a cosign attestation of its
// rebase.
func (s *Signer) Attachments(ctx context.Context, p *rebase.Plan) ([]rebase.Attachment, error) {
	subjects, err := p.Subjects()
	if err != nil {
		return nil, err
	}
	repo, err := name.NewRepository(p.Repository(), name.Insecure)
	if err != nil {
		return nil, err
	}
	old, err := v1.NewHash(p.Digest)
	if err != nil {
		return nil, err
	}
	all := make([]Platform, 0, len(subjects))
	byDigest := map[v1.Hash]Platform{}
	for _, sub := range subjects {
		if sub.Platform == nil {
			continue
		}
		pl, err := platform(sub)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", sub.Digest, err)
		}
		all = append(all, pl)
		byDigest[sub.Digest] = pl
	}
	var out []rebase.Attachment
	for _, sub := range subjects {
		d := repo.Digest(sub.Digest.String())
		r := Rebase{Input: p.Input, Image: repo.Digest(old.String()), Base: p.Base,
			OldBaseIndex: p.OldBase, NewBaseIndex: p.NewBase, Platforms: all, Version: s.version,
			Verified: verified(p.Verified)}
		if pl, ok := byDigest[sub.Digest]; ok && len(subjects) > 1 {
			r.Platforms = []Platform{pl}
		}
		payload, sig, err := SignSimple(ctx, s.sv, d)
		if err != nil {
			return nil, fmt.Errorf("signing %s: %w", d, err)
		}
		st, err := Statement(d, r)
		if err != nil {
			return nil, err
		}
		env, err := SignDSSE(ctx, s.sv, st)
		if err != nil {
			return nil, fmt.Errorf("signing the attestation of %s: %w", d, err)
		}
		out = append(out,
			rebase.Attachment{Kind: rebase.Signature, Of: sub.Digest, Tag: rebase.CosignTag(sub.Digest, "sig"),
				Image: func(now v1.Image) (v1.Image, error) { return SignatureImage(now, payload, sig) }},
			rebase.Attachment{Kind: rebase.Attestation, Of: sub.Digest, Tag: rebase.CosignTag(sub.Digest, "att"),
				Image: func(now v1.Image) (v1.Image, error) { return AttestationImage(now, env, PredicateType) }})
	}
	return out, nil
}

// platform is what the provenance says of one rebased platform: its
// manifests, bases, the layers kept and what its config says of its build.
func platform(sub rebase.Subject) (Platform, error) {
	pr := sub.Platform
	pl := Platform{Platform: pr.Platform, OldManifest: pr.Digest, NewManifest: pr.NewDigest,
		OldBase: Base{Name: sub.OldBase, Digest: pr.OldBase}, NewBase: Base{Name: sub.NewBase, Digest: pr.NewBase}}
	if sub.Image == nil {
		return pl, nil
	}
	m, err := sub.Image.Manifest()
	if err != nil {
		return pl, err
	}
	if sub.Kept > len(m.Layers) {
		return pl, fmt.Errorf("%d layers kept of %d", sub.Kept, len(m.Layers))
	}
	pl.KeptLayers = []string{}
	for _, l := range m.Layers[len(m.Layers)-sub.Kept:] {
		pl.KeptLayers = append(pl.KeptLayers, l.Digest.String())
	}
	cf, err := sub.Image.ConfigFile()
	if err != nil {
		return pl, err
	}
	// The image's own history: from the end, back over its kept layers.
	var own []string
	n := 0
	for i := len(cf.History) - 1; i >= 0 && n < sub.Kept; i-- {
		h := cf.History[i]
		if !h.EmptyLayer {
			n++
		}
		if h.CreatedBy != "" {
			own = append([]string{h.CreatedBy}, own...)
		}
	}
	pl.CreatedBy = own
	for _, src := range []map[string]string{m.Annotations, cf.Config.Labels} {
		if pl.Source == "" {
			pl.Source = src[imagespec.AnnotationSource]
		}
		if pl.Revision == "" {
			pl.Revision = src[imagespec.AnnotationRevision]
		}
	}
	return pl, nil
}
