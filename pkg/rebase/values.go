package rebase

import (
	"bytes"
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// values sets the plan's Index or Image: go-containerregistry values backed
// by the manifests and configs the plan will push, byte for byte, whose
// layers (and unchanged children) are read from the registry when asked
// for, so that a caller can validate the plan, write it elsewhere, or look
// at it, without the engine having pushed anything.
func (r *Rebaser) values(ctx context.Context, p *Plan) error {
	repo := p.ref.Context()
	planned := map[v1.Hash]v1.Image{}
	for _, pp := range p.platforms {
		img, err := r.plannedImage(ctx, repo, pp)
		if err != nil {
			return err
		}
		planned[pp.newDigest] = img
	}
	if p.top.index == nil {
		p.Image = planned[p.digest]
		return nil
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(p.manifest.b))
	if err != nil {
		return fmt.Errorf("planned index: %w", err)
	}
	p.Index = &plannedIndex{raw: p.manifest.b, mt: p.manifest.mt, im: im, planned: planned,
		kept: func(h v1.Hash) (v1.Image, error) {
			return r.src.Image(ctx, repo.Digest(h.String()))
		}}
	return nil
}

// plannedImage is the rebased image of one platform: its new manifest and
// config, the new base's layers read from the base's repository, the
// image's own from its repository.
func (r *Rebaser) plannedImage(ctx context.Context, repo name.Repository, pp *platformPlan) (v1.Image, error) {
	from := map[v1.Hash]name.Repository{}
	for _, l := range pp.layers {
		from[l.desc.Digest] = l.ref.Context()
	}
	m, err := v1.ParseManifest(bytes.NewReader(pp.manifest.b))
	if err != nil {
		return nil, fmt.Errorf("planned manifest: %w", err)
	}
	mts := map[v1.Hash]types.MediaType{}
	for _, l := range m.Layers {
		mts[l.Digest] = l.MediaType
	}
	return partial.CompressedToImage(&plannedCore{
		manifest: pp.manifest,
		config:   pp.config.b,
		layer: func(h v1.Hash) (partial.CompressedLayer, error) {
			src, ok := from[h]
			if !ok {
				src = repo
			}
			l, err := r.src.Layer(ctx, src.Digest(h.String()))
			return typedLayer{l, mts[h]}, err
		},
	})
}

// typedLayer is a layer of the media type its manifest gives it (a remote
// layer alone does not know its own).
type typedLayer struct {
	v1.Layer
	mt types.MediaType
}

func (l typedLayer) MediaType() (types.MediaType, error) { return l.mt, nil }

// plannedCore is a partial.CompressedImageCore over a planned manifest and
// config.
type plannedCore struct {
	manifest rawManifest
	config   []byte
	layer    func(v1.Hash) (partial.CompressedLayer, error)
}

func (c *plannedCore) RawConfigFile() ([]byte, error)      { return c.config, nil }
func (c *plannedCore) MediaType() (types.MediaType, error) { return c.manifest.mt, nil }
func (c *plannedCore) RawManifest() ([]byte, error)        { return c.manifest.b, nil }
func (c *plannedCore) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	return c.layer(h)
}

// plannedIndex is a v1.ImageIndex over a planned index manifest: its
// rebased children are planned images, the others (kept as they were) are
// read from the image's repository.
type plannedIndex struct {
	raw     []byte
	mt      types.MediaType
	im      *v1.IndexManifest
	planned map[v1.Hash]v1.Image
	kept    func(v1.Hash) (v1.Image, error)
}

func (i *plannedIndex) MediaType() (types.MediaType, error)       { return i.mt, nil }
func (i *plannedIndex) Digest() (v1.Hash, error)                  { return partial.Digest(i) }
func (i *plannedIndex) Size() (int64, error)                      { return partial.Size(i) }
func (i *plannedIndex) IndexManifest() (*v1.IndexManifest, error) { return i.im.DeepCopy(), nil }
func (i *plannedIndex) RawManifest() ([]byte, error)              { return i.raw, nil }

func (i *plannedIndex) Image(h v1.Hash) (v1.Image, error) {
	if img, ok := i.planned[h]; ok {
		return img, nil
	}
	for _, d := range i.im.Manifests {
		if d.Digest == h {
			return i.kept(h)
		}
	}
	return nil, fmt.Errorf("the planned index has no child %s", h)
}

func (i *plannedIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	return nil, fmt.Errorf("%s: nested indexes are not rebased", h)
}
