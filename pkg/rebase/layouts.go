package rebase

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/rebasekit/rebasekit/pkg/layout"
	"github.com/rebasekit/rebasekit/pkg/refs"
	"github.com/rebasekit/rebasekit/pkg/registry"
	"github.com/rebasekit/rebasekit/pkg/store"
)

// Where images are: a reference in skopeo's oci: syntax names an OCI image
// layout (package layout), any other a registry (package registry, or the
// Source and Destination given with WithSource and WithDestination). The
// engine plans with go-containerregistry names either way: a layout's are
// on a host that cannot exist, and places sends each name to its store, so
// that a layout run makes no network request.

// places dispatches each reference to the store it names.
type places struct {
	src    store.Source
	dst    store.Destination
	layout *layout.Store
}

func (p *places) source(repo name.Repository) store.Source {
	if layout.Owns(repo) {
		return p.layout
	}
	return p.src
}

func (p *places) Manifest(ctx context.Context, ref name.Reference) ([]byte, v1.Descriptor, error) {
	return p.source(ref.Context()).Manifest(ctx, ref)
}

func (p *places) Blob(ctx context.Context, ref name.Digest, limit int64) ([]byte, error) {
	return p.source(ref.Context()).Blob(ctx, ref, limit)
}

func (p *places) Layer(ctx context.Context, ref name.Digest) (v1.Layer, error) {
	return p.source(ref.Context()).Layer(ctx, ref)
}

func (p *places) Image(ctx context.Context, ref name.Digest) (v1.Image, error) {
	return p.source(ref.Context()).Image(ctx, ref)
}

func (p *places) Tags(ctx context.Context, repo name.Repository) ([]string, error) {
	return p.source(repo).Tags(ctx, repo)
}

func (p *places) Open(ctx context.Context, repo, from name.Repository, push bool) (store.Repository, error) {
	if layout.Owns(repo) {
		return p.layout.Open(ctx, repo, from, push)
	}
	return p.dst.Open(ctx, repo, from, push)
}

// parseInput reads an input line: a registry reference, or a layout's
// (then lref is set, and written's tag is the tag its ref.name is given).
func (r *Rebaser) parseInput(ref string) (written refs.Ref, nref name.Reference, lref *layout.Ref, err error) {
	if !layout.IsRef(ref) {
		written, ok := refs.Parse(ref)
		if !ok {
			return written, nil, nil, ErrNotReference
		}
		nref, err := registry.ParseReference(ref, r.nameOpts...)
		if err != nil {
			return written, nil, nil, fmt.Errorf("%w: %w", ErrNotReference, err)
		}
		return written, nref, nil, nil
	}
	lr, err := layout.Parse(ref)
	if err != nil {
		return written, nil, nil, fmt.Errorf("%w: %w", ErrNotReference, err)
	}
	if nref, err = r.layouts.Reference(lr); err != nil {
		return written, nil, nil, err
	}
	if lr.Name != "" {
		t, err := r.layouts.Named(nref.Context(), lr.Name)
		if err != nil {
			return written, nil, nil, err
		}
		written.Tag = t.TagStr()
	}
	return written, nref, &lr, nil
}

// parseBase reads --old-base or --new-base: a registry reference or a
// layout's.
func (r *Rebaser) parseBase(s string) (name.Reference, error) {
	if !layout.IsRef(s) {
		return registry.ParseReference(s, r.nameOpts...)
	}
	lr, err := layout.Parse(s)
	if err != nil {
		return nil, err
	}
	return r.layouts.Reference(lr)
}

// layoutOutput is the output line of a rebased layout image:
// oci:DIR:NAME@sha256:NEW (oci:DIR@sha256:NEW when it came by digest).
func layoutOutput(lr layout.Ref, digest string) string {
	lr.Digest, _ = v1.NewHash(digest)
	return lr.String()
}

// spell is ref as the user would write it: a layout's as oci:DIR:..., a
// registry's as it is.
func (r *Rebaser) spell(ref name.Reference) string {
	if lr, ok := r.layouts.Spell(ref); ok {
		return lr.String()
	}
	return ref.String()
}

// inLayout keeps the bases of an image in a layout in layouts: the flags'
// bases must be layouts' (a layout run makes no network request, and a
// layout takes layers from layouts only), and the annotations' base.name,
// a registry's name, is looked up as a ref.name of the image's own layout
// (skopeo copy docker://NAME oci:DIR:NAME puts it there), the old base by
// its base.digest in the same layout. An image in a registry takes no base
// from a layout.
func (r *Rebaser) inLayout(repo name.Repository, b *bases) (*bases, error) {
	img, newIn, oldIn := layout.Owns(repo), layout.Owns(b.new.Context()), layout.Owns(b.old.Context())
	switch {
	case !img && (newIn || oldIn):
		return nil, fmt.Errorf("the image is in a registry and its base %s in an OCI layout: a rebase reads its bases where the image is", r.spell(b.new))
	case !img:
		return b, nil
	case b.info == nil && (!newIn || !oldIn):
		return nil, fmt.Errorf("the image is in the OCI layout %s and its bases are not (%s, %s): name both bases in a layout, as oci:DIR:NAME", r.layouts.DirOf(repo), r.spell(b.old), r.spell(b.new))
	case b.info == nil:
		return b, nil
	}
	dir := r.layouts.DirOf(repo)
	has, err := r.layouts.Has(repo, b.info.name)
	if err != nil {
		return nil, err
	}
	if !has {
		return nil, fmt.Errorf("its base %s (base.name) is not in the OCI layout %s under that ref.name: copy it in (skopeo copy --all docker://%s oci:%s:%s), or name the old and the new base in the layout, as oci:DIR:NAME",
			b.info.name, dir, b.info.name, dir, b.info.name)
	}
	nb, err := r.layouts.Named(repo, b.info.name)
	if err != nil {
		return nil, err
	}
	return &bases{info: b.info, old: repo.Digest(b.old.(name.Digest).DigestStr()), new: nb}, nil
}

// errSignInLayout refuses to sign an image in a layout, before anything is
// written: a signature names the image's repository (cosign's payload, the
// provenance's subject), and a layout has none; one made here would name a
// host that does not exist, which policies that match the repository
// refuse. Signing follows the copy into the registry.
func errSignInLayout(lr layout.Ref) error {
	lr.Digest = v1.Hash{}
	return fmt.Errorf("signing needs a registry: a signature names the image's repository, and an OCI layout has none; rebase %s without signing, copy it into its registry (skopeo copy --all %s docker://REPO:TAG) and sign it there", lr, lr)
}

// newBaseInLayout: the new base was given as a layout's, whose name is no
// base.name (the annotations keep the registry name the image had).
func (r *Rebaser) newBaseInLayout() bool { return r.newBase != nil && layout.Owns(r.newBase.Context()) }

// layoutIndexAnnotations is indexAnnotations for an index in a layout: the
// index-level base.digest is the digest of the base index now, found as
// the image's bases are (inLayout); base.name stays as the index had it.
func (r *Rebaser) layoutIndexAnnotations(ctx context.Context, idx *object, inherited *baseInfo, p *Plan) error {
	if inherited == nil || inherited.digest == "" {
		return nil
	}
	var base name.Reference = r.newBase
	if base == nil {
		repo := p.ref.Context()
		if has, err := r.layouts.Has(repo, inherited.name); err != nil || !has {
			return err // the children were planned: their bases were found
		}
		nb, err := r.layouts.Named(repo, inherited.name)
		if err != nil {
			return err
		}
		base = nb
	}
	nb, err := r.manifest(ctx, base)
	if err != nil {
		return describe("new base "+r.spell(base), err)
	}
	p.NewBase = nb.digest.String()
	if err := setAnnotations(idx, []annotation{{AnnotationBaseDigest, nb.digest.String()}}); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	return nil
}

// respell writes the layout names in res's words as the user spells them
// (oci:DIR:NAME): the engine's messages print the names it plans with.
func (r *Rebaser) respell(res *Result) {
	res.Reason = r.layouts.Respell(res.Reason)
	if res.Err != nil {
		if s := r.layouts.Respell(res.Err.Error()); s != res.Err.Error() {
			res.Err = &respelled{s, res.Err}
		}
	}
	res.Base = r.layouts.Respell(res.Base)
	for i, w := range res.Warnings {
		res.Warnings[i] = r.layouts.Respell(w)
	}
	for i := range res.Platforms {
		res.Platforms[i].Reason = r.layouts.Respell(res.Platforms[i].Reason)
	}
	for i := range res.Referrers {
		res.Referrers[i] = r.layouts.Respell(res.Referrers[i])
	}
	for i := range res.Attached {
		res.Attached[i].Ref = r.layouts.Respell(res.Attached[i].Ref)
	}
}

// respelled is an error in the user's spelling of layout references.
type respelled struct {
	msg string
	err error
}

func (e *respelled) Error() string { return e.msg }
func (e *respelled) Unwrap() error { return e.err }
