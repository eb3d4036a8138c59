package rebase

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

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

	// Set when res.Action is Rebased.
	newDigest v1.Hash
	manifest  rawManifest
	config    configBlob
	layers    []*baseLayer // new-base layers the repository may lack
}

// planPlatform decides what to do with one platform manifest (raw, parsed as
// man) and computes the rebased manifest and config. platform is the index
// child's platform, nil for a single image; inherited is the index-level base
// annotation, used only when the manifest has none.
func (r *Rebaser) planPlatform(ctx context.Context, repo name.Repository, digest v1.Hash, raw []byte, man *v1.Manifest, platform *v1.Platform, inherited *baseInfo) (*platformPlan, error) {
	p := &platformPlan{res: PlatformResult{Platform: platformString(platform), Digest: digest.String()}}
	err := r.planPlatformErr(ctx, p, repo, raw, man, platform, inherited)
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

func (r *Rebaser) planPlatformErr(ctx context.Context, p *platformPlan, repo name.Repository, raw []byte, man *v1.Manifest, platform *v1.Platform, inherited *baseInfo) error {
	// Where the image came from, and where its base is now.
	var oldRef, newRef name.Reference
	bi := annotated(man.Annotations, "manifest")
	if bi == nil {
		bi = inherited
	}
	override := r.o.oldBase != ""
	if override {
		var err error
		if oldRef, err = name.ParseReference(r.o.oldBase, r.nameOpts...); err != nil {
			return fmt.Errorf("old base %q: %w", r.o.oldBase, err)
		}
		if newRef, err = name.ParseReference(r.o.newBase, r.nameOpts...); err != nil {
			return fmt.Errorf("new base %q: %w", r.o.newBase, err)
		}
		p.baseName = r.o.newBase
	} else {
		if bi == nil {
			return skipf("no base annotations (%s): give --old-base and --new-base", AnnotationBaseName)
		}
		p.baseName = bi.name
		if bi.name == "" {
			return skipf("the %s annotations have a base.digest but no base.name", bi.where)
		}
		if bi.digest == "" {
			return skipf("the %s annotations have a base.name but no base.digest", bi.where)
		}
		base, err := name.ParseReference(bi.name, r.nameOpts...)
		if err != nil {
			return fmt.Errorf("invalid base.name %q: %w", bi.name, err)
		}
		if _, pinned := base.(name.Digest); pinned {
			return skipf("base is pinned by digest (%s)", bi.name)
		}
		h, err := v1.NewHash(bi.digest)
		if err != nil {
			return fmt.Errorf("invalid base.digest %q: %w", bi.digest, err)
		}
		oldRef, newRef = base.Context().Digest(h.String()), base
	}

	newBase, err := r.manifest(ctx, newRef)
	if err != nil {
		return describe("new base "+newRef.String(), err)
	}

	// The fast path: the recorded base is still what the base name points
	// at, or still its child for this platform. No config, no old base.
	if !override {
		if up, child := stillCurrent(newBase, bi.digest, platform); up {
			p.res.Action, p.res.OldBase, p.res.NewBase = UpToDate, bi.digest, child
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
	}

	oldM, oldP, err := r.forPlatform(ctx, oldRef, platform, "old base")
	if err != nil {
		return err
	}
	if platform.Variant == "" && oldP != nil && oldP.Variant != "" {
		// The image names no variant but the base it was built on does
		// (arm/v7): the new base's child must be that variant too.
		withVariant := *platform
		withVariant.Variant = oldP.Variant
		platform = &withVariant
	}
	newM, _, err := r.forPlatform(ctx, newBase.ref, platform, "new base")
	if err != nil {
		return err
	}
	p.res.OldBase, p.res.NewBase = oldM.digest.String(), newM.digest.String()
	if oldM.digest == newM.digest {
		p.res.Action = UpToDate
		return nil
	}

	k := len(oldM.manifest.Layers)
	if !startsWith(man.Layers, oldM.manifest.Layers) {
		if len(newM.manifest.Layers) > 0 && startsWith(man.Layers, newM.manifest.Layers) {
			// Already on the new base (rebased by something that did not
			// update the annotations): nothing to push.
			p.res.Action = UpToDate
			return nil
		}
		return fmt.Errorf("layers do not start with the old base %s (%d layers)", oldM.ref, k)
	}

	// The configs of both bases: diff_ids and history.
	oldCfg, err := r.config(ctx, oldM.ref.Context(), oldM.manifest.Config.Digest)
	if err != nil {
		return describe("old base config", err)
	}
	newCfg, err := r.config(ctx, newM.ref.Context(), newM.manifest.Config.Digest)
	if err != nil {
		return describe("new base config", err)
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
	case override:
		anns = []annotation{{AnnotationBaseName, r.o.newBase}, {AnnotationBaseDigest, newM.digest.String()}}
	case bi != nil && bi.where == "manifest" && man.Annotations[AnnotationBaseDigest] != "":
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

// stillCurrent reports whether the recorded base digest is still what the
// base name resolves to, or its child for this platform (any platform when
// the image's own platform is not known yet).
func stillCurrent(newBase *fetched, recorded string, platform *v1.Platform) (bool, string) {
	if newBase.digest.String() == recorded {
		return true, recorded
	}
	if newBase.index == nil {
		return false, ""
	}
	for _, d := range newBase.index.Manifests {
		if d.Digest.String() != recorded || !isPlatformImage(d) {
			continue
		}
		// The recorded digest is the base the image was built on: the
		// platform need only agree loosely (an image config often has no
		// variant where the base index says arm/v7).
		if platform == nil || looselySamePlatform(platform, d.Platform) {
			return true, recorded
		}
	}
	return false, ""
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
	d, ok := childFor(f.index, platform)
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
	convert := toOCI
	if man.MediaType == types.DockerManifestSchema2 {
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
		}
		out = append(out, l)
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
			p, err := r.planPlatform(gctx, repo, f.digest, f.raw, f.manifest, d.Platform, inherited)
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
