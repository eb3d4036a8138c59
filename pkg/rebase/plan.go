package rebase

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
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

// platformPlan is the rebase of one platform manifest.
type platformPlan struct {
	res      PlatformResult
	baseName string
	warnings []string
	// descAnns: the platform's index descriptor has a copy of the base
	// annotations, to be updated with the manifest's.
	descAnns bool

	// Set when res.Action is Rebased.
	newDigest v1.Hash
	manifest  rawManifest
	config    configBlob
	layers    []*baseLayer // new-base layers the repository may lack
	osVersion string       // the new base's os.version, for the index descriptor
	pushed    atomic.Bool  // its manifest is in the repository
}

// planPlatform decides what to do with one platform manifest (raw, parsed as
// man) and computes the rebased manifest and config. desc is the manifest's
// descriptor in its index, nil for a single image; inherited is the
// index-level base annotation. The base annotations are looked for in that
// order: the manifest, its descriptor, the index.
func (r *Rebaser) planPlatform(ctx context.Context, repo name.Repository, digest v1.Hash, raw []byte, man *v1.Manifest, desc *v1.Descriptor, inherited *baseInfo) (*platformPlan, error) {
	var platform *v1.Platform
	if desc != nil {
		platform = desc.Platform
	}
	p := &platformPlan{res: PlatformResult{Platform: platformString(platform), Digest: digest.String()}}
	err := r.planPlatformErr(ctx, p, repo, raw, man, desc, inherited)
	var s *skip
	switch {
	case err == nil:
	case errors.As(err, &s):
		p.res.Action, p.res.Reason = Skipped, s.reason
	default:
		p.res.Action, p.res.Reason = Failed, err.Error()
	}
	return p, err
}

// bases is where one platform image came from and where its base is now.
type bases struct {
	info     *baseInfo      // from the annotations; nil with the flags
	old, new name.Reference // the old base (by digest), the base now
}

// findBases reads the base annotations (manifest, descriptor, index) or the
// flags.
func (r *Rebaser) findBases(p *platformPlan, man *v1.Manifest, desc *v1.Descriptor, inherited *baseInfo) (*bases, error) {
	p.descAnns = desc != nil && annotated(desc.Annotations, "") != nil
	if r.o.oldBase != "" {
		oldRef, err := name.ParseReference(r.o.oldBase, r.nameOpts...)
		if err != nil {
			return nil, fmt.Errorf("old base %q: %w", r.o.oldBase, err)
		}
		newRef, err := name.ParseReference(r.o.newBase, r.nameOpts...)
		if err != nil {
			return nil, fmt.Errorf("new base %q: %w", r.o.newBase, err)
		}
		p.baseName = r.o.newBase
		return &bases{old: oldRef, new: newRef}, nil
	}
	bi := annotated(man.Annotations, "manifest")
	if bi == nil && desc != nil {
		bi = annotated(desc.Annotations, "index descriptor")
	}
	if bi == nil {
		bi = inherited
	}
	if bi == nil {
		return nil, skipf("no base annotations (%s): give --old-base and --new-base", AnnotationBaseName)
	}
	p.baseName = bi.name
	if bi.name == "" {
		return nil, skipf("the %s annotations have a base.digest but no base.name", bi.where)
	}
	if bi.digest == "" {
		return nil, skipf("the %s annotations have a base.name but no base.digest", bi.where)
	}
	base, err := name.ParseReference(bi.name, r.nameOpts...)
	if err != nil {
		return nil, fmt.Errorf("invalid base.name %q: %w", bi.name, err)
	}
	if _, pinned := base.(name.Digest); pinned {
		return nil, skipf("base is pinned by digest (%s)", bi.name)
	}
	h, err := v1.NewHash(bi.digest)
	if err != nil {
		return nil, fmt.Errorf("invalid base.digest %q: %w", bi.digest, err)
	}
	return &bases{info: bi, old: base.Context().Digest(h.String()), new: base}, nil
}

func (r *Rebaser) planPlatformErr(ctx context.Context, p *platformPlan, repo name.Repository, raw []byte, man *v1.Manifest, desc *v1.Descriptor, inherited *baseInfo) error {
	b, err := r.findBases(p, man, desc, inherited)
	if err != nil {
		return err
	}
	var platform *v1.Platform
	if desc != nil {
		platform = desc.Platform
	}
	newBase, err := r.manifest(ctx, b.new)
	if err != nil {
		return describe("new base "+b.new.String(), err)
	}

	// The fast path: the recorded base is still what the base name points
	// at, or still its child for this platform, and the image's layers
	// start with that manifest's: no config, no old base. Annotations alone
	// never make a no-op.
	if b.info != nil {
		up, err := r.stillCurrent(ctx, newBase, b.info.digest, platform, man)
		if err != nil {
			return err
		}
		if up != "" {
			p.res.Action, p.res.OldBase, p.res.NewBase = UpToDate, b.info.digest, up
			return nil
		}
	}

	cfg, err := r.blob(ctx, repo, man.Config.Digest)
	if err != nil {
		return describe("config "+man.Config.Digest.String(), err)
	}
	cfgObj, err := parseObject(cfg)
	if err != nil {
		return fmt.Errorf("config %s: %w", man.Config.Digest, err)
	}
	if platform == nil {
		if platform, err = configPlatform(cfgObj); err != nil {
			return fmt.Errorf("config %s: %w", man.Config.Digest, err)
		}
		if platform.OS == "" || platform.Architecture == "" {
			return fmt.Errorf("config %s names no os/architecture", man.Config.Digest)
		}
		p.res.Platform = platformString(platform)
	} else if platform.OSVersion == "" {
		// The index child names no os.version: its config may.
		if cp, err := configPlatform(cfgObj); err == nil && cp.OSVersion != "" && looselySamePlatform(platform, cp) {
			withVersion := *platform
			withVersion.OSVersion = cp.OSVersion
			platform = &withVersion
		}
	}

	oldM, oldP, err := r.forPlatform(ctx, b.old, platform, "old base")
	if err != nil {
		return err
	}
	if platform, err = r.likeOldBase(ctx, platform, oldM, oldP); err != nil {
		return err
	}
	newM, newP, err := r.forPlatform(ctx, newBase.ref, platform, "new base")
	if err != nil {
		return err
	}
	p.res.OldBase, p.res.NewBase = oldM.digest.String(), newM.digest.String()

	// Up to date is decided by layers: the image starts with the new base's.
	k := len(oldM.manifest.Layers)
	onNew := startsWith(man.Layers, newM.manifest.Layers)
	switch {
	case oldM.digest == newM.digest && onNew:
		p.res.Action = UpToDate
		return nil
	case oldM.digest == newM.digest:
		return fmt.Errorf("layers do not start with the old base %s (%d layers), which is also the new base: give the old base by digest", oldM.ref, k)
	case !startsWith(man.Layers, oldM.manifest.Layers):
		if len(newM.manifest.Layers) > 0 && onNew {
			// Already on the new base (rebased by something that did not
			// update the annotations): nothing to push.
			p.res.Action = UpToDate
			return nil
		}
		return fmt.Errorf("layers do not start with the old base %s (%d layers)", oldM.ref, k)
	}
	return r.planRebase(ctx, p, b, raw, man, cfgObj, oldM, newM, newP)
}

// likeOldBase completes the image's platform from the base it was built on:
// builders often leave the variant (arm/v7) and the Windows os.version out
// of the image, and the new base's child must be for the same ones.
func (r *Rebaser) likeOldBase(ctx context.Context, platform *v1.Platform, oldM *fetched, oldP *v1.Platform) (*v1.Platform, error) {
	out := *platform
	if out.Variant == "" && oldP != nil {
		out.Variant = oldP.Variant
	}
	if out.OSVersion == "" && oldP != nil {
		out.OSVersion = oldP.OSVersion
	}
	if out.OSVersion == "" && out.OS == "windows" {
		cfg, err := r.config(ctx, oldM.ref.Context(), oldM.manifest.Config.Digest)
		if err != nil {
			return nil, describe("old base config", err)
		}
		co, err := parseObject(cfg)
		if err != nil {
			return nil, fmt.Errorf("old base config: %w", err)
		}
		if bp, err := configPlatform(co); err == nil {
			out.OSVersion = bp.OSVersion
		}
	}
	return &out, nil
}

// planRebase computes the rebased config and manifest of an image whose
// first layers are oldM's.
func (r *Rebaser) planRebase(ctx context.Context, p *platformPlan, b *bases, raw []byte, man *v1.Manifest, cfgObj *object, oldM, newM *fetched, newP *v1.Platform) error {
	k := len(oldM.manifest.Layers)
	// The configs of both bases: diff_ids and history.
	oldCfg, err := r.config(ctx, oldM.ref.Context(), oldM.manifest.Config.Digest)
	if err != nil {
		return describe("old base config", err)
	}
	newCfg, err := r.config(ctx, newM.ref.Context(), newM.manifest.Config.Digest)
	if err != nil {
		return describe("new base config", err)
	}
	// A Windows image follows its base's os.version (the patch level).
	if p.osVersion, err = osVersionOf(newCfg, newP); err != nil {
		return fmt.Errorf("new base config: %w", err)
	}
	if p.osVersion != "" {
		if err := cfgObj.set("os.version", p.osVersion); err != nil {
			return err
		}
	}
	newConfig, note, err := rebaseConfig(cfgObj, len(man.Layers), oldCfg, k, newCfg, len(newM.manifest.Layers))
	if err != nil {
		return err
	}
	p.res.History = note

	cd, _, err := v1.SHA256(bytes.NewReader(newConfig))
	if err != nil {
		return err
	}
	p.config = configBlob{b: newConfig, d: cd}

	// The base annotations stay true. With --old-base/--new-base they name
	// the new base as given (crane rebase does the same), so the next run
	// needs no flags and a base in another repository is not misnamed.
	var anns []annotation
	switch {
	case b.info == nil:
		anns = []annotation{{AnnotationBaseName, r.o.newBase}, {AnnotationBaseDigest, newM.digest.String()}}
	case man.Annotations[AnnotationBaseDigest] != "":
		anns = []annotation{{AnnotationBaseDigest, newM.digest.String()}}
	}
	mb, err := rebaseManifest(raw, man, k, newM, cd, int64(len(newConfig)), anns)
	if err != nil {
		return err
	}
	md, _, err := v1.SHA256(bytes.NewReader(mb))
	if err != nil {
		return err
	}
	mt := man.MediaType
	if mt == "" {
		mt = types.OCIManifestSchema1
	}
	p.manifest = rawManifest{b: mb, mt: mt}
	p.newDigest = md
	p.res.NewDigest = md.String()
	p.res.Action = Rebased

	have := map[v1.Hash]bool{}
	for _, l := range man.Layers {
		have[l.Digest] = true
	}
	for _, l := range newM.manifest.Layers {
		if have[l.Digest] || len(l.URLs) > 0 || !l.MediaType.IsDistributable() {
			continue // already in the repository, or foreign: never copied
		}
		p.layers = append(p.layers, &baseLayer{
			ctx:    ctx,
			puller: r.puller,
			ref:    newM.ref.Context().Digest(l.Digest.String()),
			desc:   l,
		})
	}
	return nil
}

// osVersionOf is the os.version of a base: its config's, else its index
// descriptor's.
func osVersionOf(cfg []byte, desc *v1.Platform) (string, error) {
	co, err := parseObject(cfg)
	if err != nil {
		return "", err
	}
	var v string
	if err := co.get("os.version", &v); err != nil {
		return "", err
	}
	if v == "" && desc != nil {
		v = desc.OSVersion
	}
	return v, nil
}

// stillCurrent reports whether the recorded base digest is still what the
// base name resolves to, or its child for this platform (any platform when
// the image's own platform is not known yet), and the image's layers start
// with that manifest's. It returns the base manifest's digest, or "".
func (r *Rebaser) stillCurrent(ctx context.Context, newBase *fetched, recorded string, platform *v1.Platform, man *v1.Manifest) (string, error) {
	current := newBase.digest.String() == recorded
	if !current && newBase.index != nil {
		for _, d := range newBase.index.Manifests {
			if d.Digest.String() != recorded || !isPlatformImage(d) {
				continue
			}
			// The recorded digest is the base the image was built on: the
			// platform need only agree loosely (an image config often has
			// no variant where the base index says arm/v7).
			if platform == nil || looselySamePlatform(platform, d.Platform) {
				current = true
			}
		}
	}
	if !current {
		return "", nil
	}
	m := newBase
	if m.digest.String() != recorded {
		var err error
		if m, err = r.manifest(ctx, newBase.ref.Context().Digest(recorded)); err != nil {
			return "", describe("new base "+newBase.ref.String()+" child "+recorded, err)
		}
	}
	if m.index != nil {
		// Annotated with the base index's own digest: the layers are those
		// of its child for the image's platform.
		d, _, ok := childFor(m.index, platform)
		if !ok || platform == nil {
			return "", nil // the full path says what is wrong
		}
		var err error
		if m, err = r.manifest(ctx, newBase.ref.Context().Digest(d.Digest.String())); err != nil || m.manifest == nil {
			return "", nil
		}
	}
	if m.manifest != nil && startsWith(man.Layers, m.manifest.Layers) {
		return recorded, nil
	}
	return "", nil
}

// forPlatform fetches the platform manifest of a base: ref itself, or its
// child for platform when ref is an index. It also returns the platform the
// base says that manifest is for (from the index, or the config).
func (r *Rebaser) forPlatform(ctx context.Context, ref name.Reference, platform *v1.Platform, what string) (*fetched, *v1.Platform, error) {
	f, err := r.manifest(ctx, ref)
	if err != nil {
		return nil, nil, describe(what+" "+ref.String(), err)
	}
	if f.index == nil {
		// A single-platform base must be for this platform: never stitch an
		// arm64 image onto an amd64 base.
		cfg, err := r.config(ctx, ref.Context(), f.manifest.Config.Digest)
		if err != nil {
			return nil, nil, describe(what+" "+ref.String()+" config", err)
		}
		co, err := parseObject(cfg)
		if err != nil {
			return nil, nil, fmt.Errorf("%s %s config: %w", what, ref, err)
		}
		bp, err := configPlatform(co)
		if err != nil {
			return nil, nil, fmt.Errorf("%s %s config: %w", what, ref, err)
		}
		if !looselySamePlatform(platform, bp) {
			return nil, nil, fmt.Errorf("platform %s missing from %s %s (a single %s image)", platformString(platform), what, ref, platformString(bp))
		}
		return f, bp, nil
	}
	d, candidates, ok := childFor(f.index, platform)
	if len(candidates) > 0 {
		return nil, nil, fmt.Errorf("platform %s is ambiguous in %s %s: %d children fit and nothing tells them apart: %s",
			platformString(platform), what, ref, len(candidates), candidateList(candidates))
	}
	if !ok {
		return nil, nil, fmt.Errorf("platform %s missing from %s %s", platformString(platform), what, ref)
	}
	c, err := r.manifest(ctx, ref.Context().Digest(d.Digest.String()))
	if isNotFound(err) {
		return nil, nil, &described{fmt.Sprintf("%s %s lists a %s manifest %s that is not in the registry (%s)",
			what, ref, platformString(platform), d.Digest, registryText(err)), err}
	}
	if err != nil {
		return nil, nil, describe(fmt.Sprintf("%s %s (%s)", what, ref, platformString(platform)), err)
	}
	if c.manifest == nil {
		return nil, nil, fmt.Errorf("%s %s: the %s child is not an image", what, ref, platformString(platform))
	}
	return c, d.Platform, nil
}

// startsWith compares layers by digest: layers are decided by the layer
// lists, never by history.
func startsWith(layers, prefix []v1.Descriptor) bool {
	if len(prefix) > len(layers) {
		return false
	}
	for i := range prefix {
		if layers[i].Digest != prefix[i].Digest {
			return false
		}
	}
	return true
}

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

	// History: swap the old base's entries when they line up with its layers.
	hist, err := rawArray(cfg.raw("history"))
	if err != nil {
		return nil, "", fmt.Errorf("config history: %w", err)
	}
	oldHist, err := rawArray(oldObj.raw("history"))
	if err != nil {
		return nil, "", fmt.Errorf("old base config history: %w", err)
	}
	newHist, err := rawArray(newObj.raw("history"))
	if err != nil {
		return nil, "", fmt.Errorf("new base config history: %w", err)
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
			return nil, "", err
		}
	}
	b, err := cfg.bytes()
	return b, note, err
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

// planIndex rebases every platform child of an index and rebuilds it.
func (r *Rebaser) planIndex(ctx context.Context, repo name.Repository, top *fetched, res *Result) (*plan, error) {
	inherited := annotated(top.index.Annotations, "index")
	if inherited != nil {
		res.Base, res.OldBase = inherited.name, inherited.digest
	}
	type child struct {
		desc    v1.Descriptor
		keep    bool
		plan    *platformPlan
		err     error
		dropped string
	}
	for _, d := range top.index.Manifests {
		if d.MediaType.IsIndex() {
			return nil, fmt.Errorf("child %s is a nested index: not supported", d.Digest)
		}
	}
	children := make([]child, len(top.index.Manifests))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.o.jobs)
	var mu sync.Mutex
	for i, d := range top.index.Manifests {
		children[i].desc = d
		if !isPlatformImage(d) {
			children[i].dropped = fmt.Sprintf("%s (%s, %s)", d.Digest, platformString(d.Platform), kindOf(d))
			continue
		}
		g.Go(func() error {
			f, err := r.fetch(gctx, repo.Digest(d.Digest.String()))
			if err != nil {
				err = describe(fmt.Sprintf("%s manifest %s", platformString(d.Platform), d.Digest), err)
				mu.Lock()
				children[i].err = err
				mu.Unlock()
				return err
			}
			if f.manifest == nil {
				err := fmt.Errorf("%s child %s is not an image manifest", platformString(d.Platform), d.Digest)
				mu.Lock()
				children[i].err = err
				mu.Unlock()
				return err
			}
			p, err := r.planPlatform(gctx, repo, f.digest, f.raw, f.manifest, &d, inherited)
			mu.Lock()
			children[i].plan, children[i].err = p, err
			mu.Unlock()
			var s *skip
			if errors.As(err, &s) && !r.o.strict {
				return nil // one platform without annotations does not stop the others
			}
			if err != nil {
				return fmt.Errorf("%s: %w", p.res.Platform, err)
			}
			return nil
		})
	}
	gerr := g.Wait()
	var rebased, upToDate, skipped int
	var firstSkip string
	for _, c := range children {
		if c.plan == nil {
			continue
		}
		res.Platforms = append(res.Platforms, c.plan.res)
		res.Warnings = append(res.Warnings, c.plan.warnings...)
		if res.Base == "" {
			res.Base = c.plan.baseName
		}
		switch c.plan.res.Action {
		case Rebased:
			rebased++
		case UpToDate:
			upToDate++
		case Skipped:
			skipped++
			if firstSkip == "" {
				firstSkip = c.plan.res.Reason
			}
		}
	}
	if gerr != nil {
		return nil, gerr
	}
	out := &plan{}
	switch {
	case rebased > 0:
		out.action = Rebased
	case upToDate > 0:
		out.action = UpToDate
		return out, nil
	case skipped > 0:
		return nil, &skip{firstSkip}
	default:
		return nil, errors.New("the index has no platform images")
	}

	// Rebuild the index: same order, same descriptors, new digests.
	idx, err := parseObject(top.raw)
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	raws, err := rawArray(idx.raw("manifests"))
	if err != nil {
		return nil, fmt.Errorf("index manifests: %w", err)
	}
	if len(raws) != len(children) {
		return nil, errors.New("index manifests do not parse consistently")
	}
	var kept []json.RawMessage
	for i, c := range children {
		if c.dropped != "" {
			res.Dropped = append(res.Dropped, c.dropped)
			res.Warnings = append(res.Warnings, "dropped index child "+c.dropped+": it describes the old image")
			continue
		}
		if c.plan.res.Action != Rebased {
			if c.plan.res.Action == Skipped {
				res.Warnings = append(res.Warnings, fmt.Sprintf("%s kept as it was: %s", c.plan.res.Platform, c.plan.res.Reason))
			}
			kept = append(kept, raws[i])
			continue
		}
		o, err := parseObject(raws[i])
		if err != nil {
			return nil, fmt.Errorf("index child %d: %w", i, err)
		}
		o.setRaw("digest", jsonString(c.plan.newDigest.String()))
		if err := o.set("size", len(c.plan.manifest.b)); err != nil {
			return nil, err
		}
		if err := r.rebaseDescriptor(o, c.plan); err != nil {
			return nil, fmt.Errorf("index child %d: %w", i, err)
		}
		b, err := o.bytes()
		if err != nil {
			return nil, err
		}
		kept = append(kept, b)
		out.platforms = append(out.platforms, c.plan)
	}
	kb, err := marshal(kept)
	if err != nil {
		return nil, err
	}
	idx.setRaw("manifests", kb)

	// The index-level base.digest becomes the base index's digest now
	// (with --new-base, base.name names it too). An index without base
	// annotations gets none: its children carry them.
	if inherited != nil && (inherited.digest != "" || inherited.name != "") {
		baseName, anns := inherited.name, []annotation(nil)
		if r.o.newBase != "" {
			baseName = r.o.newBase
			anns = append(anns, annotation{AnnotationBaseName, baseName})
		}
		if base, err := name.ParseReference(baseName, r.nameOpts...); err == nil && inherited.digest != "" {
			if _, pinned := base.(name.Digest); !pinned || r.o.newBase != "" {
				nb, err := r.manifest(ctx, base)
				if err != nil {
					return nil, describe("new base "+base.String(), err)
				}
				res.NewBase = nb.digest.String()
				anns = append(anns, annotation{AnnotationBaseDigest, nb.digest.String()})
			}
		}
		if err := setAnnotations(idx, anns); err != nil {
			return nil, fmt.Errorf("index: %w", err)
		}
	}
	ib, err := idx.bytes()
	if err != nil {
		return nil, err
	}
	d, _, err := v1.SHA256(bytes.NewReader(ib))
	if err != nil {
		return nil, err
	}
	out.digest = d
	out.top = rawManifest{b: ib, mt: top.mediaType}
	return out, nil
}

// rebaseDescriptor updates what a rebased child's index descriptor says
// about its base: the os.version of the new base (a Windows patch level),
// and its copy of the base annotations, when it has one.
func (r *Rebaser) rebaseDescriptor(o *object, p *platformPlan) error {
	if p.osVersion != "" && o.has("platform") {
		po, err := o.child("platform")
		if err != nil {
			return err
		}
		if err := po.set("os.version", p.osVersion); err != nil {
			return err
		}
		pb, err := po.bytes()
		if err != nil {
			return err
		}
		o.setRaw("platform", pb)
	}
	if !p.descAnns {
		return nil
	}
	anns := []annotation{{AnnotationBaseDigest, p.res.NewBase}}
	if r.o.newBase != "" {
		anns = append([]annotation{{AnnotationBaseName, r.o.newBase}}, anns...)
	}
	return setAnnotations(o, anns)
}

func kindOf(d v1.Descriptor) string {
	if t := d.Annotations["vnd.docker.reference.type"]; t != "" {
		return t
	}
	if d.ArtifactType != "" && !types.MediaType(d.ArtifactType).IsConfig() {
		return d.ArtifactType
	}
	if !d.MediaType.IsImage() {
		return string(d.MediaType)
	}
	return "not a platform image"
}
