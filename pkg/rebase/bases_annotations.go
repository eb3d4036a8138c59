package rebase

import (
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	imagespec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/rebasekit/rebasekit/pkg/registry"
)

// The annotations ko (and buildkit, and others) record on the images they
// build: image-spec's.
const (
	AnnotationBaseName   = imagespec.AnnotationBaseImageName
	AnnotationBaseDigest = imagespec.AnnotationBaseImageDigest
)

// baseInfo is where an image says it came from.
type baseInfo struct {
	name, digest string
	where        string // "manifest", "index" or "flags"
}

func annotated(a map[string]string, where string) *baseInfo {
	n, d := a[AnnotationBaseName], a[AnnotationBaseDigest]
	if n == "" && d == "" {
		return nil
	}
	return &baseInfo{name: n, digest: d, where: where}
}

// annotatedBases reads the OCI base annotations: on the manifest, else its
// index descriptor, else the index.
type annotatedBases struct{ nameOpts []name.Option }

// early is the base the top manifest's annotations name (an index's, or a
// single image's), when it can move.
func (a annotatedBases) early(top *fetched) []name.Reference {
	var anns map[string]string
	switch {
	case top.index != nil:
		anns = top.index.Annotations
	case top.manifest != nil:
		anns = top.manifest.Annotations
	}
	bi := annotated(anns, "")
	if bi == nil || bi.name == "" || bi.digest == "" {
		return nil
	}
	ref, err := registry.ParseReference(bi.name, a.nameOpts...)
	if _, pinned := ref.(name.Digest); err != nil || pinned {
		return nil
	}
	return []name.Reference{ref}
}

func (a annotatedBases) find(in *platformInput) (*bases, error) {
	bi := annotated(in.man.Annotations, "manifest")
	if bi == nil && in.desc != nil {
		bi = annotated(in.desc.Annotations, "index descriptor")
	}
	if bi == nil {
		bi = in.inherited
	}
	if bi == nil {
		return nil, &SkipError{Reason: ErrNoBaseAnnotations.Error(), Err: ErrNoBaseAnnotations}
	}
	b := &bases{info: bi, name: bi.name}
	if bi.name == "" {
		return b, skipf("the %s annotations have a base.digest but no base.name", bi.where)
	}
	if bi.digest == "" {
		return b, skipf("the %s annotations have a base.name but no base.digest", bi.where)
	}
	base, err := registry.ParseReference(bi.name, a.nameOpts...)
	if err != nil {
		return b, fmt.Errorf("invalid base.name %q: %w", bi.name, err)
	}
	if _, pinned := base.(name.Digest); pinned {
		return b, skipf("base is pinned by digest (%s)", bi.name)
	}
	h, err := v1.NewHash(bi.digest)
	if err != nil {
		return b, fmt.Errorf("invalid base.digest %q: %w", bi.digest, err)
	}
	b.old, b.new = base.Context().Digest(h.String()), base
	return b, nil
}
