package rebasetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"slices"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Verify checks, from the registry, everything a user would check of a
// rebased image ref (pinned by digest): every manifest, config and
// distributable layer is there and has its digest; every layer's
// uncompressed digest is its config's diff_id; each manifest is of one
// media-type family, with its config and every layer of that family, and an
// index's children of the index's family; every descriptor's embedded data,
// when it has some, is its content; and every copy of the base
// annotations (manifest, index descriptor, index) names a manifest that
// exists, whose layers (for the image's platform) the image starts with.
// A nil error means ref names a whole, consistent image.
func Verify(ctx context.Context, ref string, opts ...remote.Option) error {
	d, err := name.NewDigest(ref)
	if err != nil {
		return err
	}
	opts = append(opts, remote.WithContext(ctx))
	desc, err := remote.Get(d, opts...)
	if err != nil {
		return err
	}
	if !desc.MediaType.IsIndex() {
		img, err := desc.Image()
		if err != nil {
			return err
		}
		return verifyImage(d.Context(), img, nil, opts)
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	docker := desc.MediaType == types.DockerManifestList
	if err := verifyBase(im.Annotations, nil, nil, opts); err != nil {
		return fmt.Errorf("%s: index annotations: %w", ref, err)
	}
	for _, c := range im.Manifests {
		if err := embedded(c); err != nil {
			return fmt.Errorf("%s: child %s: %w", ref, c.Digest, err)
		}
		if (c.MediaType == types.DockerManifestSchema2) != docker {
			return fmt.Errorf("%s: %s index holds a %s child %s", ref, desc.MediaType, c.MediaType, c.Digest)
		}
		img, err := remote.Image(d.Context().Digest(c.Digest.String()), opts...)
		if err != nil {
			return fmt.Errorf("%s: child %s: %w", ref, c.Digest, err)
		}
		if err := verifyImage(d.Context(), img, &c, opts); err != nil {
			return fmt.Errorf("%s: child %s: %w", ref, c.Digest, err)
		}
	}
	return nil
}

func verifyImage(repo name.Repository, img v1.Image, desc *v1.Descriptor, opts []remote.Option) error {
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	docker := m.MediaType == types.DockerManifestSchema2
	wantCfg := types.OCIConfigJSON
	if docker {
		wantCfg = types.DockerConfigJSON
	}
	if m.Config.MediaType != wantCfg {
		return fmt.Errorf("%s manifest with a %s config", m.MediaType, m.Config.MediaType)
	}
	if err := embedded(m.Config); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	for i, l := range m.Layers {
		if err := embedded(l); err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
	}
	raw, err := readBlob(repo, m.Config, opts)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if len(cf.RootFS.DiffIDs) != len(m.Layers) {
		return fmt.Errorf("%d diff_ids for %d layers", len(cf.RootFS.DiffIDs), len(m.Layers))
	}
	for i, l := range m.Layers {
		if !slices.Contains(familyLayers(docker), l.MediaType) {
			return fmt.Errorf("layer %d: a %s manifest holds a %s layer", i, m.MediaType, l.MediaType)
		}
		if !l.MediaType.IsDistributable() {
			continue // foreign: pulled from its URLs, not from the registry
		}
		if _, err := readBlob(repo, l, opts); err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
		rl, err := remote.Layer(repo.Digest(l.Digest.String()), opts...)
		if err != nil {
			return err
		}
		// Uncompressed decompresses the layer as its media type says.
		rc, err := rl.Uncompressed()
		if err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
		h := sha256.New()
		_, err = io.Copy(h, rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
		if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != cf.RootFS.DiffIDs[i].String() {
			return fmt.Errorf("layer %d: uncompressed %s, diff_id %s", i, got, cf.RootFS.DiffIDs[i])
		}
	}
	p := &v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant, OSVersion: cf.OSVersion}
	if err := verifyBase(m.Annotations, m.Layers, p, opts); err != nil {
		return fmt.Errorf("manifest annotations: %w", err)
	}
	if desc != nil {
		if desc.Platform != nil && desc.Platform.OSVersion != cf.OSVersion {
			return fmt.Errorf("descriptor os.version %q, config os.version %q", desc.Platform.OSVersion, cf.OSVersion)
		}
		if err := verifyBase(desc.Annotations, m.Layers, p, opts); err != nil {
			return fmt.Errorf("descriptor annotations: %w", err)
		}
	}
	return nil
}

func familyLayers(docker bool) []types.MediaType {
	if docker {
		return []types.MediaType{types.DockerLayer, types.DockerUncompressedLayer, types.DockerForeignLayer}
	}
	return []types.MediaType{types.OCILayer, types.OCILayerZStd, types.OCIUncompressedLayer, types.OCIRestrictedLayer, types.OCIUncompressedRestrictedLayer}
}

// embedded checks the content a descriptor embeds (data), when it embeds
// any: go-containerregistry, crane and ko use it in place of the blob.
func embedded(d v1.Descriptor) error {
	if d.Data == nil {
		return nil
	}
	sum := sha256.Sum256(d.Data)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != d.Digest.String() || int64(len(d.Data)) != d.Size {
		return fmt.Errorf("embedded data of %d bytes with digest %s, the descriptor says %d bytes, %s", len(d.Data), got, d.Size, d.Digest)
	}
	return nil
}

// readBlob reads a blob and checks its digest and size.
func readBlob(repo name.Repository, d v1.Descriptor, opts []remote.Option) ([]byte, error) {
	l, err := remote.Layer(repo.Digest(d.Digest.String()), opts...)
	if err != nil {
		return nil, err
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.Digest, err)
	}
	sum := sha256.Sum256(b)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != d.Digest.String() || int64(len(b)) != d.Size {
		return nil, fmt.Errorf("%s: got %d bytes with digest %s, want %d", d.Digest, len(b), got, d.Size)
	}
	return b, nil
}

// verifyBase checks one copy of the base annotations: base.digest is a
// manifest in base.name's repository and, when layers are given, the image
// starts with its layers (those of its child for platform p, when it is an
// index).
func verifyBase(anns map[string]string, layers []v1.Descriptor, p *v1.Platform, opts []remote.Option) error {
	bn, bd := anns[AnnotationBaseName], anns[AnnotationBaseDigest]
	if bn == "" && bd == "" {
		return nil
	}
	base, err := name.ParseReference(bn)
	if err != nil {
		return fmt.Errorf("base.name %q: %w", bn, err)
	}
	ref := base.Context().Digest(bd)
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		return fmt.Errorf("base.digest names no manifest in %s: %w", base.Context(), err)
	}
	if layers == nil {
		return nil
	}
	var img v1.Image
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return err
		}
		if img, _, err = Child(idx, *p); err != nil {
			return fmt.Errorf("base %s: %w", ref, err)
		}
	} else if img, err = desc.Image(); err != nil {
		return err
	}
	bm, err := img.Manifest()
	if err != nil {
		return err
	}
	if len(bm.Layers) > len(layers) {
		return fmt.Errorf("the image does not start with the layers of its base %s", ref)
	}
	for i, l := range bm.Layers {
		if layers[i].Digest != l.Digest {
			return fmt.Errorf("the image does not start with the layers of its base %s (layer %d)", ref, i)
		}
	}
	return nil
}
