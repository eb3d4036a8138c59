package rebase

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// rebaseConfig swaps the old base's diff_ids and history for the new base's
// in the image's config, keeping every other field as it was.
func rebaseConfig(cfg *object, nLayers int, oldCfg []byte, k int, newCfg []byte, nNew int) ([]byte, string, error) {
	rootfs, err := cfg.child("rootfs")
	if err != nil {
		return nil, "", fmt.Errorf("config: %w", err)
	}
	var diffIDs []string
	if err := rootfs.get("diff_ids", &diffIDs); err != nil {
		return nil, "", fmt.Errorf("config rootfs: %w", err)
	}
	if len(diffIDs) != nLayers {
		return nil, "", fmt.Errorf("config has %d diff_ids for %d layers", len(diffIDs), nLayers)
	}
	oldObj, err := parseObject(oldCfg)
	if err != nil {
		return nil, "", fmt.Errorf("old base config: %w", err)
	}
	newObj, err := parseObject(newCfg)
	if err != nil {
		return nil, "", fmt.Errorf("new base config: %w", err)
	}
	var oldDiff, newDiff []string
	if r, err := oldObj.child("rootfs"); err != nil {
		return nil, "", fmt.Errorf("old base config: %w", err)
	} else if err := r.get("diff_ids", &oldDiff); err != nil {
		return nil, "", fmt.Errorf("old base config: %w", err)
	}
	if r, err := newObj.child("rootfs"); err != nil {
		return nil, "", fmt.Errorf("new base config: %w", err)
	} else if err := r.get("diff_ids", &newDiff); err != nil {
		return nil, "", fmt.Errorf("new base config: %w", err)
	}
	if len(newDiff) != nNew {
		return nil, "", fmt.Errorf("new base config has %d diff_ids for %d layers", len(newDiff), nNew)
	}
	if !slices.Equal(diffIDs[:k], oldDiff) {
		return nil, "", fmt.Errorf("config diff_ids do not start with the old base's")
	}
	if err := rootfs.set("diff_ids", append(slices.Clip(newDiff), diffIDs[k:]...)); err != nil {
		return nil, "", err
	}
	rb, err := rootfs.bytes()
	if err != nil {
		return nil, "", err
	}
	cfg.setRaw("rootfs", rb)
	note, err := rebaseHistory(cfg, oldObj, k, newObj, nNew)
	if err != nil {
		return nil, "", err
	}
	b, err := cfg.bytes()
	return b, note, err
}

// rebaseHistory swaps the old base's history entries in cfg for the new
// base's, when they line up with its k layers; the note says when they did
// not, and what was done instead.
func rebaseHistory(cfg, oldObj *object, k int, newObj *object, nNew int) (string, error) {
	hist, err := rawArray(cfg.raw("history"))
	if err != nil {
		return "", fmt.Errorf("config history: %w", err)
	}
	oldHist, err := rawArray(oldObj.raw("history"))
	if err != nil {
		return "", fmt.Errorf("old base config history: %w", err)
	}
	newHist, err := rawArray(newObj.raw("history"))
	if err != nil {
		return "", fmt.Errorf("new base config history: %w", err)
	}
	var note string
	switch {
	case nonEmpty(oldHist) != k:
		note = "kept the image's history: the old base's history does not line up with its layers"
	case len(hist) < len(oldHist) || nonEmpty(hist[:len(oldHist)]) != k:
		note = "kept the image's history: it does not start with the old base's"
	default:
		if nonEmpty(newHist) != nNew {
			note = "the new base's history does not line up with its layers: history and layers no longer match"
		}
		h := append(slices.Clip(newHist), hist[len(oldHist):]...)
		if len(h) == 0 {
			h = nil
		}
		if h == nil && !cfg.has("history") {
			break
		}
		if err := cfg.set("history", h); err != nil {
			return "", err
		}
	}
	return note, nil
}

func nonEmpty(hist []json.RawMessage) int {
	n := 0
	for _, h := range hist {
		var e struct {
			EmptyLayer bool `json:"empty_layer"`
		}
		if json.Unmarshal(h, &e) == nil && !e.EmptyLayer {
			n++
		}
	}
	return n
}

// Layer media types that name the same bytes in the two families.
var (
	toOCI = map[types.MediaType]types.MediaType{
		types.DockerLayer:             types.OCILayer,
		types.DockerUncompressedLayer: types.OCIUncompressedLayer,
		types.DockerForeignLayer:      types.OCIRestrictedLayer,
	}
	toDocker = map[types.MediaType]types.MediaType{
		types.OCILayer:             types.DockerLayer,
		types.OCIUncompressedLayer: types.DockerUncompressedLayer,
		types.OCIRestrictedLayer:   types.DockerForeignLayer,
	}
)

// Layer media types each family of manifests can carry.
var (
	dockerLayers = []types.MediaType{types.DockerLayer, types.DockerUncompressedLayer, types.DockerForeignLayer}
	ociLayers    = []types.MediaType{types.OCILayer, types.OCILayerZStd, types.OCIUncompressedLayer,
		types.OCIRestrictedLayer, types.OCIUncompressedRestrictedLayer,
		"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"}
)

// layerFits reports whether a layer of media type mt belongs in a Docker
// schema 2 manifest (docker) or an OCI one. Skopeo, podman and CRI-O refuse
// a manifest whose layers are of the other family, or of no known type.
func layerFits(mt types.MediaType, docker bool) bool {
	if docker {
		return slices.Contains(dockerLayers, mt)
	}
	return slices.Contains(ociLayers, mt)
}

func familyName(docker bool) string {
	if docker {
		return "a Docker manifest"
	}
	return "an OCI manifest"
}

// rebaseManifest swaps the first k layer descriptors for the new base's,
// points at the new config and updates base.digest (when newAnnotation is
// set), keeping every other field. Layer media types follow the manifest's
// family: Docker stays Docker, OCI stays OCI.
func rebaseManifest(raw []byte, man *v1.Manifest, k int, newBase *fetched, cfgDigest v1.Hash, cfgSize int64, anns []annotation) ([]byte, error) {
	m, err := parseObject(raw)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	layers, err := rawArray(m.raw("layers"))
	if err != nil {
		return nil, fmt.Errorf("manifest layers: %w", err)
	}
	baseObj, err := parseObject(newBase.raw)
	if err != nil {
		return nil, fmt.Errorf("new base manifest: %w", err)
	}
	baseLayers, err := rawArray(baseObj.raw("layers"))
	if err != nil {
		return nil, fmt.Errorf("new base manifest layers: %w", err)
	}
	// checkKeys saw to it that both readings agree; never splice on a
	// disagreement that got past it.
	if len(layers) != len(man.Layers) || len(baseLayers) != len(newBase.manifest.Layers) {
		return nil, errors.New("manifest layers do not parse consistently")
	}
	docker := man.MediaType == types.DockerManifestSchema2
	convert := toOCI
	if docker {
		convert = toDocker
	}
	out := make([]json.RawMessage, 0, len(baseLayers)+len(layers)-k)
	for i, l := range baseLayers {
		mt := newBase.manifest.Layers[i].MediaType
		if to, ok := convert[mt]; ok {
			lo, err := parseObject(l)
			if err != nil {
				return nil, fmt.Errorf("new base layer %d: %w", i, err)
			}
			lo.setRaw("mediaType", jsonString(string(to)))
			if l, err = lo.bytes(); err != nil {
				return nil, err
			}
		} else if !layerFits(mt, docker) {
			return nil, fmt.Errorf("the new base's layer %d has media type %s, which %s cannot carry and which has no equivalent there", i, mt, familyName(docker))
		}
		out = append(out, l)
	}
	for i, l := range man.Layers[k:] {
		if !layerFits(l.MediaType, docker) {
			return nil, fmt.Errorf("the image's layer %d has media type %s, which %s cannot carry", k+i, l.MediaType, familyName(docker))
		}
	}
	out = append(out, layers[k:]...)
	lb, err := marshal(out)
	if err != nil {
		return nil, err
	}
	m.setRaw("layers", lb)

	c, err := m.child("config")
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	c.setRaw("digest", jsonString(cfgDigest.String()))
	if err := c.set("size", cfgSize); err != nil {
		return nil, err
	}
	c.del("data") // the old config's bytes, embedded: the blob is pushed instead
	cb, err := c.bytes()
	if err != nil {
		return nil, err
	}
	m.setRaw("config", cb)

	if err := setAnnotations(m, anns); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	return m.bytes()
}

// annotation is one annotation to set, in the order given.
type annotation struct{ key, value string }

// setAnnotations sets anns in o's annotations, keeping the others and their
// order; new keys go last.
func setAnnotations(o *object, anns []annotation) error {
	if len(anns) == 0 {
		return nil
	}
	a, err := o.child("annotations")
	if err != nil {
		return err
	}
	for _, an := range anns {
		a.setRaw(an.key, jsonString(an.value))
	}
	ab, err := a.bytes()
	if err != nil {
		return err
	}
	o.setRaw("annotations", ab)
	return nil
}
