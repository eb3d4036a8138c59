package rebase

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/rebasekit/rebasekit/pkg/registry"
)

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
	kept      int          // the image's own layers, on top of the base's
	oldBase   string       // the old base's name (its repository, or the flag's)
	newBase   string       // the new base's name (the tag resolved)
	pushed    atomic.Bool  // its manifest is in the repository
}

// planPlatform decides what to do with one platform manifest of the image
// ip plans, and computes the rebased manifest and config.
func (r *Rebaser) planPlatform(ctx context.Context, ip *Plan, in *platformInput) (*platformPlan, error) {
	p := &platformPlan{res: PlatformResult{Platform: platformString(in.platform()), Digest: in.digest.String()}}
	err := r.planPlatformErr(ctx, p, ip, in)
	var s *SkipError
	switch {
	case err == nil:
	case errors.As(err, &s):
		p.res.Action, p.res.Reason = Skipped, s.Reason
	default:
		p.res.Action, p.res.Reason = Failed, err.Error()
	}
	return p, err
}

// stillUpToDate is the fast path: the recorded base is still what the base
// name points at, or still its child for this platform, and the image's
// layers start with that manifest's: no config, no old base. Annotations
// alone never make a no-op. It reports whether it decided the platform.
func (r *Rebaser) stillUpToDate(ctx context.Context, p *platformPlan, b *bases, newBase *fetched, platform *v1.Platform, man *v1.Manifest) (bool, error) {
	if b.info == nil {
		return false, nil
	}
	up, err := r.stillCurrent(ctx, newBase, b.info.digest, platform, man)
	if err != nil || up == "" {
		return false, err
	}
	if err := r.trustBase(ctx, p, b.new, newBase, upDigest(up)); err != nil {
		return false, err
	}
	p.res.Action, p.res.OldBase, p.res.NewBase = UpToDate, b.info.digest, up
	return true, nil
}

// startsWithBases says whether the image's layers start with the old base's
// and with the new base's: by blob digest, else by content. The same layers
// in other blobs: buildah and podman push the base's layers compressed anew
// when the registry or their cache does not have the base's blobs; their
// diff_ids, the digests of the uncompressed content, say whether they are
// the base's.
func (r *Rebaser) startsWithBases(ctx context.Context, man *v1.Manifest, cfgObj *object, oldM, newM *fetched) (onOld, onNew bool, err error) {
	onOld, onNew = startsWith(man.Layers, oldM.manifest.Layers), startsWith(man.Layers, newM.manifest.Layers)
	if onOld || onNew {
		return onOld, onNew, nil
	}
	if onOld, err = r.sameContent(ctx, cfgObj, oldM, "old base"); err != nil {
		return false, false, err
	}
	if oldM.digest == newM.digest {
		return onOld, onOld, nil
	}
	if !onOld {
		if onNew, err = r.sameContent(ctx, cfgObj, newM, "new base"); err != nil {
			return false, false, err
		}
	}
	return onOld, onNew, nil
}

func (r *Rebaser) planPlatformErr(ctx context.Context, p *platformPlan, ip *Plan, in *platformInput) error {
	p.descAnns = in.desc != nil && annotated(in.desc.Annotations, "") != nil
	b, err := r.finder().find(in)
	if b != nil {
		p.baseName = b.name
	}
	if err == nil {
		b, err = r.inLayout(in.repo, b)
	}
	if err != nil {
		return err
	}
	platform := in.platform()
	newBase, err := r.manifest(ctx, b.new)
	if err != nil {
		return describe("new base "+b.new.String(), err)
	}
	if done, err := r.stillUpToDate(ctx, p, b, newBase, platform, in.man); done || err != nil {
		return err
	}
	// Not up to date by the annotations: both bases' manifests for this
	// platform are read either way now; ask for them beside the config.
	// Annotations whose base is no longer what its name points at all but
	// say a rebase: the referrers check and the bases' configs start now
	// too. (The exception, an image rebased by a tool that left its
	// annotations, is found up to date by its layers after those few
	// requests.) With the flags nothing says so yet: they wait for the
	// layers.
	likely := b.info != nil
	if likely {
		r.startReferrers(ip, newBase.ref.Context(), in.digest)
	}
	r.warmBases(ip.warm, b, newBase, platform, likely)
	return r.planFromConfig(ctx, p, ip, b, in, platform, newBase)
}

// planFromConfig plans a platform that is not up to date from its config:
// its platform, the old base's and the new base's manifests for it, and
// whether its layers start with either.
func (r *Rebaser) planFromConfig(ctx context.Context, p *platformPlan, ip *Plan, b *bases, in *platformInput, platform *v1.Platform, newBase *fetched) error {
	repo, man, raw := in.repo, in.man, in.raw
	cfg, err := r.blob(ctx, repo, man.Config.Digest)
	if err != nil {
		return describe("config "+man.Config.Digest.String(), err)
	}
	cfgObj, err := parseObject(cfg)
	if err != nil {
		return fmt.Errorf("config %s: %w", man.Config.Digest, err)
	}
	if platform, err = imagePlatform(platform, cfgObj, man.Config.Digest); err != nil {
		return err
	}
	p.res.Platform = platformString(platform)

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
	if err := r.trustBase(ctx, p, b.new, newBase, newM.digest); err != nil {
		return err
	}

	// Up to date is decided by layers: the image starts with the new base's.
	k := len(oldM.manifest.Layers)
	onOld, onNew, err := r.startsWithBases(ctx, man, cfgObj, oldM, newM)
	if err != nil {
		return err
	}
	switch {
	case oldM.digest == newM.digest && onNew:
		p.res.Action = UpToDate
		return nil
	case oldM.digest == newM.digest:
		return fmt.Errorf("layers do not start with the old base %s (%d layers), which is also the new base: give the old base by digest", oldM.ref, k)
	case !onOld:
		if len(newM.manifest.Layers) > 0 && onNew {
			// Already on the new base (rebased by something that did not
			// update the annotations): nothing to push.
			p.res.Action = UpToDate
			return nil
		}
		return fmt.Errorf("layers do not start with the old base %s (%d layers)", oldM.ref, k)
	}
	p.kept, p.oldBase, p.newBase = len(man.Layers)-k, b.old.Context().Name(), b.new.Name()
	// To be rebased: look for what refers to its old digests meanwhile.
	r.startReferrers(ip, newM.ref.Context(), in.digest)
	return r.planRebase(ctx, p, b, raw, man, cfgObj, oldM, newM, newP)
}

// imagePlatform is the image's platform: its index descriptor's (with the
// config's os.version when the descriptor names none), else its config's.
func imagePlatform(desc *v1.Platform, cfg *object, cfgDigest v1.Hash) (*v1.Platform, error) {
	cp, err := configPlatform(cfg)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", cfgDigest, err)
	}
	if desc == nil {
		if cp.OS == "" || cp.Architecture == "" {
			return nil, fmt.Errorf("config %s names no os/architecture", cfgDigest)
		}
		return cp, nil
	}
	if desc.OSVersion == "" && cp.OSVersion != "" && looselySamePlatform(desc, cp) {
		withVersion := *desc
		withVersion.OSVersion = cp.OSVersion
		return &withVersion, nil
	}
	return desc, nil
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
	oldCfg, newCfg, err := r.baseConfigs(ctx, oldM, newM)
	if err != nil {
		return err
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
	edit, err := rebaseConfig(cfgObj, len(man.Layers), oldCfg, k, newCfg, len(newM.manifest.Layers), r.o.keepConfig)
	if err != nil {
		return err
	}
	newConfig := edit.b
	p.res.History, p.res.Config = edit.history, edit.changes
	for _, w := range edit.warnings {
		p.warnings = append(p.warnings, p.res.Platform+": "+w)
	}
	if edit.lost {
		p.warnings = append(p.warnings, p.res.Platform+": "+edit.history)
	}

	cd, _, err := v1.SHA256(bytes.NewReader(newConfig))
	if err != nil {
		return err
	}
	p.config = configBlob{b: newConfig, d: cd}

	anns := r.baseAnnotations(b, man, newM)
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

	p.layers = newBaseLayers(man, newM)
	return nil
}

// baseConfigs reads the configs of both bases (their diff_ids and history),
// at once.
func (r *Rebaser) baseConfigs(ctx context.Context, oldM, newM *fetched) (oldCfg, newCfg []byte, err error) {
	var newErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		newCfg, newErr = r.config(ctx, newM.ref.Context(), newM.manifest.Config.Digest)
	}()
	oldCfg, err = r.config(ctx, oldM.ref.Context(), oldM.manifest.Config.Digest)
	<-done
	switch {
	case err != nil:
		return nil, nil, describe("old base config", err)
	case newErr != nil:
		return nil, nil, describe("new base config", newErr)
	}
	return oldCfg, newCfg, nil
}

// baseAnnotations are the base annotations the rebased manifest gets: they
// stay true. With --old-base/--new-base they name the new base as given
// (crane rebase does the same), so the next run needs no flags and a base
// in another repository is not misnamed.
func (r *Rebaser) baseAnnotations(b *bases, man *v1.Manifest, newM *fetched) []annotation {
	switch {
	case b.info == nil && r.newBaseInLayout():
		// A layout is where the bytes came from, not the base's name.
		if man.Annotations[AnnotationBaseDigest] != "" {
			return []annotation{{AnnotationBaseDigest, newM.digest.String()}}
		}
	case b.info == nil:
		return []annotation{{AnnotationBaseName, r.o.newBase}, {AnnotationBaseDigest, newM.digest.String()}}
	case man.Annotations[AnnotationBaseDigest] != "":
		return []annotation{{AnnotationBaseDigest, newM.digest.String()}}
	}
	return nil
}

// newBaseLayers are the new base's layers the image's repository may lack:
// not among the image's own, nor foreign (never copied).
func newBaseLayers(man *v1.Manifest, newM *fetched) []*baseLayer {
	have := map[v1.Hash]bool{}
	for _, l := range man.Layers {
		have[l.Digest] = true
	}
	var out []*baseLayer
	for _, l := range newM.manifest.Layers {
		if have[l.Digest] || len(l.URLs) > 0 || !l.MediaType.IsDistributable() {
			continue
		}
		out = append(out, &baseLayer{ref: newM.ref.Context().Digest(l.Digest.String()), desc: l})
	}
	return out
}

// sameContent reports whether the image's config (cfg) lists the diff_ids
// of base's layers first: the base's layers, whatever blobs carry them. The
// base's config is read once per run.
func (r *Rebaser) sameContent(ctx context.Context, cfg *object, base *fetched, what string) (bool, error) {
	if len(base.manifest.Layers) == 0 {
		return false, nil
	}
	var diffIDs, baseDiffIDs []string
	if rootfs, err := cfg.child("rootfs"); err != nil {
		return false, fmt.Errorf("config: %w", err)
	} else if err := rootfs.get("diff_ids", &diffIDs); err != nil {
		return false, fmt.Errorf("config rootfs: %w", err)
	}
	bc, err := r.config(ctx, base.ref.Context(), base.manifest.Config.Digest)
	if err != nil {
		return false, describe(what+" config", err)
	}
	bo, err := parseObject(bc)
	if err != nil {
		return false, fmt.Errorf("%s config: %w", what, err)
	}
	if rootfs, err := bo.child("rootfs"); err != nil {
		return false, fmt.Errorf("%s config: %w", what, err)
	} else if err := rootfs.get("diff_ids", &baseDiffIDs); err != nil {
		return false, fmt.Errorf("%s config rootfs: %w", what, err)
	}
	return len(baseDiffIDs) == len(base.manifest.Layers) && len(diffIDs) >= len(baseDiffIDs) &&
		slices.Equal(diffIDs[:len(baseDiffIDs)], baseDiffIDs), nil
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
		return nil, nil, described(fmt.Sprintf("%s %s lists a %s manifest %s that is not in the registry (%s)",
			what, ref, platformString(platform), d.Digest, registry.Text(err)), err)
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
