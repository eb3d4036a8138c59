package rebase

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"

	"github.com/rebasekit/rebasekit/pkg/registry"
	"github.com/rebasekit/rebasekit/pkg/store"
)

// attach pushes one attachment: it reads what the tag names now (a GET,
// usually a 404), builds the artifact on it, uploads the blobs it adds and
// its config (a POST and a PUT each) and PUTs the manifest by tag. It
// returns the digest of the manifest pushed.
func (r *Rebaser) attach(ctx context.Context, repo name.Repository, w store.Repository, a Attachment) (v1.Hash, error) {
	now, err := tagImage(ctx, w, a.Tag)
	if err != nil {
		return v1.Hash{}, err
	}
	img, err := a.Image(now)
	if err != nil {
		return v1.Hash{}, err
	}
	m, err := img.Manifest()
	if err != nil {
		return v1.Hash{}, err
	}
	there := map[v1.Hash]bool{}
	if now != nil {
		nm, err := now.Manifest()
		if err != nil {
			return v1.Hash{}, err
		}
		for _, l := range nm.Layers {
			there[l.Digest] = true
		}
	}
	for _, l := range m.Layers {
		if there[l.Digest] {
			continue
		}
		layer, err := img.LayerByDigest(l.Digest)
		if err != nil {
			return v1.Hash{}, err
		}
		b, err := readAll(layer.Compressed)
		if err != nil {
			return v1.Hash{}, err
		}
		if err := w.PutBlob(ctx, l.Digest, b); err != nil {
			return v1.Hash{}, err
		}
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return v1.Hash{}, err
	}
	if err := w.PutBlob(ctx, m.Config.Digest, cfg); err != nil {
		return v1.Hash{}, err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return v1.Hash{}, err
	}
	mt, err := img.MediaType()
	if err != nil {
		return v1.Hash{}, err
	}
	r.o.logger.Printf("%s: pushing %s %s", repo, a.Kind, a.Tag)
	if err := w.PutManifest(ctx, a.Tag, raw, mt); err != nil {
		return v1.Hash{}, err
	}
	d, _, err := v1.SHA256(bytes.NewReader(raw))
	return d, err
}

func readAll(open func() (io.ReadCloser, error)) ([]byte, error) {
	rc, err := open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, registry.MaxManifestSize))
}

// tagImage is the image tag names in w (its manifest and config; its
// layers are not read), or nil when the tag names nothing.
func tagImage(ctx context.Context, w store.Repository, tag string) (v1.Image, error) {
	raw, mt, err := w.Manifest(ctx, tag)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if mt.IsIndex() {
		return nil, fmt.Errorf("tag %s names an index, not a signature image", tag)
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("tag %s: %w", tag, err)
	}
	cfg, err := w.Blob(ctx, m.Config.Digest)
	if err != nil {
		return nil, fmt.Errorf("tag %s: config: %w", tag, err)
	}
	if d, _, _ := v1.SHA256(bytes.NewReader(cfg)); d != m.Config.Digest {
		return nil, fmt.Errorf("tag %s: config %s has digest %s", tag, m.Config.Digest, d)
	}
	if mt == "" {
		mt = m.MediaType
	}
	return partial.CompressedToImage(&plannedCore{
		manifest: rawManifest{b: raw, mt: mt},
		config:   cfg,
		layer: func(h v1.Hash) (partial.CompressedLayer, error) {
			return nil, errors.New("the layers of an existing signature image are not read")
		},
	})
}
