package rebase

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// configEdit is a rebased config and what the rebase did to it.
type configEdit struct {
	b []byte
	// history says how the history was handled when it could not simply be
	// swapped like the layers, for the report; lost: it no longer lines up
	// with the layers although the image's did, which deserves a warning.
	history string
	lost    bool
	// changes and warnings are the config merge's (configmerge.go).
	changes  []ConfigChange
	warnings []string
}

// rebaseConfig swaps the old base's diff_ids and history for the new base's
// in the image's config and, unless keep, merges its config object with the
// bases' (configmerge.go), keeping every other field as it was.
func rebaseConfig(cfg *object, nLayers int, oldCfg []byte, k int, newCfg []byte, nNew int, keep bool) (*configEdit, error) {
	rootfs, err := cfg.child("rootfs")
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var diffIDs []string
	if err := rootfs.get("diff_ids", &diffIDs); err != nil {
		return nil, fmt.Errorf("config rootfs: %w", err)
	}
	if len(diffIDs) != nLayers {
		return nil, fmt.Errorf("config has %d diff_ids for %d layers", len(diffIDs), nLayers)
	}
	oldObj, err := parseObject(oldCfg)
	if err != nil {
		return nil, fmt.Errorf("old base config: %w", err)
	}
	newObj, err := parseObject(newCfg)
	if err != nil {
		return nil, fmt.Errorf("new base config: %w", err)
	}
	var oldDiff, newDiff []string
	if r, err := oldObj.child("rootfs"); err != nil {
		return nil, fmt.Errorf("old base config: %w", err)
	} else if err := r.get("diff_ids", &oldDiff); err != nil {
		return nil, fmt.Errorf("old base config: %w", err)
	}
	if r, err := newObj.child("rootfs"); err != nil {
		return nil, fmt.Errorf("new base config: %w", err)
	} else if err := r.get("diff_ids", &newDiff); err != nil {
		return nil, fmt.Errorf("new base config: %w", err)
	}
	if len(newDiff) != nNew {
		return nil, fmt.Errorf("new base config has %d diff_ids for %d layers", len(newDiff), nNew)
	}
	if !slices.Equal(diffIDs[:k], oldDiff) {
		return nil, fmt.Errorf("config diff_ids do not start with the old base's")
	}
	if err := rootfs.set("diff_ids", append(slices.Clip(newDiff), diffIDs[k:]...)); err != nil {
		return nil, err
	}
	rb, err := rootfs.bytes()
	if err != nil {
		return nil, err
	}
	cfg.setRaw("rootfs", rb)
	e := &configEdit{}
	if e.history, e.lost, err = rebaseHistory(cfg, nLayers, oldObj, k, newObj, nNew); err != nil {
		return nil, err
	}
	if !keep {
		m, err := mergeConfig(cfg, oldObj, newObj)
		if err != nil {
			return nil, err
		}
		e.changes, e.warnings = m.changes, m.warnings
	}
	e.b, err = cfg.bytes()
	return e, err
}

// rebaseHistory swaps the old base's history entries in cfg for the new
// base's. History lines up with the layers when its non-empty entries (not
// empty_layer) are as many as the layers, one for each in order; whenever
// the image's did, the result's does:
//   - the image's history may start with the old base's entries as they
//     are, or list only the old base's layers, without its empty_layer
//     entries (a builder that flattened them): either way the image's own
//     entries are those after its k-th non-empty one, and all of them are
//     kept, empty_layer ones included;
//   - a new base whose history lists fewer entries than its layers (none at
//     all, as rules_oci writes) gets an entry for each layer it does not
//     list, after its own.
//
// The note says what was done when it was not a plain swap; lost reports
// that the history lined up and no longer does (a new base whose history
// lists more layers than it has).
func rebaseHistory(cfg *object, nLayers int, oldObj *object, k int, newObj *object, nNew int) (note string, lost bool, err error) {
	hist, err := rawArray(cfg.raw("history"))
	if err != nil {
		return "", false, fmt.Errorf("config history: %w", err)
	}
	oldHist, err := rawArray(oldObj.raw("history"))
	if err != nil {
		return "", false, fmt.Errorf("old base config history: %w", err)
	}
	newHist, err := rawArray(newObj.raw("history"))
	if err != nil {
		return "", false, fmt.Errorf("new base config history: %w", err)
	}
	aligned := nonEmpty(hist) == nLayers
	var own int // where the image's own entries start
	switch {
	case nonEmpty(oldHist) == k && len(hist) >= len(oldHist) && sameEntries(hist[:len(oldHist)], oldHist):
		own = len(oldHist)
	case aligned:
		own = afterNonEmpty(hist, k)
	case nonEmpty(oldHist) != k:
		return "kept the image's history: the old base's history does not line up with its layers", false, nil
	case len(hist) < len(oldHist) || nonEmpty(hist[:len(oldHist)]) != k:
		return "kept the image's history: it does not start with the old base's", false, nil
	default:
		own = len(oldHist)
	}
	h := slices.Clip(newHist)
	switch n := nonEmpty(newHist); {
	case n < nNew:
		e, err := missingEntry(newObj)
		if err != nil {
			return "", false, err
		}
		for range nNew - n {
			h = append(h, e)
		}
		note = fmt.Sprintf("the new base's history lists %d of its %d layers: added an entry for each of the others", n, nNew)
	case n > nNew:
		note = fmt.Sprintf("the new base's history lists %d layers, it has %d: the history no longer lines up with the layers", n, nNew)
		lost = aligned
	}
	h = append(h, hist[own:]...)
	if len(h) == 0 {
		h = nil
	}
	if h == nil && !cfg.has("history") {
		return note, lost, nil
	}
	return note, lost, cfg.set("history", h)
}

// missingEntry is the history entry of a new base's layer its history does
// not list: dated as the new base, saying where it comes from.
func missingEntry(newObj *object) (json.RawMessage, error) {
	e := &object{}
	if c := newObj.raw("created"); c != nil {
		e.setRaw("created", c)
	}
	e.setRaw("comment", jsonString("a layer of the new base, whose history does not list it"))
	return e.bytes()
}

// afterNonEmpty is the index after the k-th non-empty entry of hist (0 for
// k == 0).
func afterNonEmpty(hist []json.RawMessage, k int) int {
	if k == 0 {
		return 0
	}
	n := 0
	for i, h := range hist {
		if layerEntry(h) {
			if n++; n == k {
				return i + 1
			}
		}
	}
	return len(hist)
}

// sameEntries compares history entries as JSON values.
func sameEntries(a, b []json.RawMessage) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		var x, y any
		if json.Unmarshal(a[i], &x) != nil || json.Unmarshal(b[i], &y) != nil || !reflect.DeepEqual(x, y) {
			return false
		}
	}
	return true
}

// layerEntry reports whether a history entry stands for a layer (is not
// empty_layer).
func layerEntry(h json.RawMessage) bool {
	var e struct {
		EmptyLayer bool `json:"empty_layer"`
	}
	return json.Unmarshal(h, &e) == nil && !e.EmptyLayer
}

// nonEmpty counts the entries of hist that stand for a layer.
func nonEmpty(hist []json.RawMessage) int {
	n := 0
	for _, h := range hist {
		if layerEntry(h) {
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
