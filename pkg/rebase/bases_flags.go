package rebase

import "github.com/google/go-containerregistry/pkg/name"

// flagBases is --old-base and --new-base: every image was built on old and
// moves to new, whatever its annotations say.
type flagBases struct {
	old, new name.Reference
	name     string // --new-base as given
}

func (f flagBases) early(*fetched) []name.Reference { return []name.Reference{f.new, f.old} }

func (f flagBases) find(*platformInput) (*bases, error) {
	return &bases{old: f.old, new: f.new, name: f.name}, nil
}
