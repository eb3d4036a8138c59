package rebase

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/google/go-containerregistry/pkg/name"
)

// Finding what an image was built on is a strategy, one file each:
//
//   - bases_annotations.go: the OCI base annotations (base.name and
//     base.digest) that ko, buildkit and buildah record, on the manifest,
//     its index descriptor or the index;
//   - bases_flags.go: --old-base and --new-base, which override them.
//
// Another way (buildpacks' io.buildpacks.lifecycle.metadata label, say) is
// one more file: a baseFinder, and a case in Rebaser.finder.

// baseFinder says what one platform image was built on, and where that
// base's name points now.
type baseFinder interface {
	// early is the bases worth resolving as soon as the image's top
	// manifest (top) is read, before its platforms are: the new base's
	// name, whose resolution every platform needs, even to find that the
	// image is up to date. It may be wrong: a platform can name another
	// base, and then it was resolved for nothing.
	early(top *fetched) []name.Reference
	// find reads the bases of the platform image in; a *SkipError when it
	// names none, or one that cannot move (pinned by digest).
	find(in *platformInput) (*bases, error)
}

// bases is where one platform image came from and where its base is now.
type bases struct {
	info     *baseInfo      // from the annotations; nil with the flags
	old, new name.Reference // the old base (by digest), the base now
	name     string         // the base's name, for the report
}

// platformInput is one platform manifest to plan: raw, parsed as man, with
// its descriptor in its index (nil for a single image) and the index-level
// base annotations (inherited).
type platformInput struct {
	repo      name.Repository
	digest    v1.Hash
	raw       []byte
	man       *v1.Manifest
	desc      *v1.Descriptor
	inherited *baseInfo
}

// platform is the input's platform as its index says, or nil.
func (in *platformInput) platform() *v1.Platform {
	if in.desc == nil {
		return nil
	}
	return in.desc.Platform
}

// finder is the run's strategy: the flags when given, else the annotations.
func (r *Rebaser) finder() baseFinder {
	if r.oldBase != nil {
		return flagBases{old: r.oldBase, new: r.newBase, name: r.o.newBase}
	}
	return annotatedBases{nameOpts: r.nameOpts}
}
