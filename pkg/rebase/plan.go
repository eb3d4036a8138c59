package rebase

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/rebasekit/rebasekit/pkg/layout"
	"github.com/rebasekit/rebasekit/pkg/refs"
	"github.com/rebasekit/rebasekit/pkg/registry"
	"golang.org/x/sync/errgroup"
)

// Plan is what a rebase of one image will push, worked out from the
// registry without writing to it. Its Result is the report so far (what
// Rebase returns once the plan is written); when Action is Rebased, Index
// or Image is the rebased image, a value backed by the exact bytes Write
// pushes (its layers read lazily, from the registry, with the context Plan
// was given).
type Plan struct {
	Result
	Index v1.ImageIndex // the rebased index, when the input is one
	Image v1.Image      // the rebased image, when the input is a single image

	ref       name.Reference
	written   refs.Ref
	layout    *layout.Ref     // the input, when it names an OCI layout
	top       *fetched        // the input's manifest
	digest    v1.Hash         // of the rebased image
	manifest  rawManifest     // its manifest
	platforms []*platformPlan // the rebased platforms, to push before it

	warm     *warmer       // requests made ahead of need (warm.go)
	refCheck referrerCheck // started once a platform needs a rebase
}

// Plan reads the image named by ref (a tag, a digest or both), its bases
// and their configs, and works out the rebased image. It never writes. An
// image that cannot be rebased gets an error: a *SkipError for a reason
// that is not a failure (no base annotations, a base pinned by digest), a
// *RegistryError for a registry's answer, ErrNotReference for an input
// that is not an image reference. With an error the Plan, when not nil,
// holds what was found before it, for a report.
func (r *Rebaser) Plan(ctx context.Context, ref string) (*Plan, error) {
	written, nref, lref, err := r.parseInput(ref)
	if err != nil {
		return nil, err
	}
	p := &Plan{Result: Result{Input: ref, Output: ref, DryRun: r.o.dryRun}, ref: nref, written: written, layout: lref}
	if lref != nil && r.o.signer != nil {
		return p, errSignInLayout(*lref)
	}
	if p.top, err = r.fetch(ctx, nref); err != nil {
		return p, describe("image", err)
	}
	p.warm = newWarmer(ctx)
	defer p.warm.stop()
	r.warmManifests(p.warm, r.earlyBases(nref, p.top))
	p.Digest, p.MediaType = p.top.digest.String(), string(p.top.mediaType)
	if p.top.index != nil {
		err = r.planIndex(ctx, p)
	} else {
		err = r.planSingle(ctx, p)
	}
	p.gatherVerified() // trust.go
	if err != nil || p.Action != Rebased {
		return p, err
	}
	if err := r.trustImage(ctx, p); err != nil {
		return p, err
	}
	p.NewDigest = p.digest.String()
	if err := r.checkReferrers(ctx, p); err != nil {
		return p, err
	}
	written.Digest = p.NewDigest
	p.Output = written.String()
	if lref != nil {
		p.Output = layoutOutput(*lref, p.NewDigest)
	}
	return p, r.values(ctx, p)
}

// earlyBases are the bases to resolve as soon as the image's top manifest
// is read: the finder's, where the image is (a layout run reads no
// registry: its annotations' names are looked up in the layout).
func (r *Rebaser) earlyBases(ref name.Reference, top *fetched) []name.Reference {
	var out []name.Reference
	for _, b := range r.finder().early(top) {
		if b != nil && layout.Owns(b.Context()) == layout.Owns(ref.Context()) {
			out = append(out, b)
		}
	}
	return out
}

// planSingle plans the rebase of a single-platform image.
func (r *Rebaser) planSingle(ctx context.Context, p *Plan) error {
	pp, err := r.planPlatform(ctx, p, &platformInput{repo: p.ref.Context(), digest: p.top.digest, raw: p.top.raw, man: p.top.manifest})
	p.Platforms = append(p.Platforms, pp.res)
	p.Base, p.OldBase, p.NewBase = pp.baseName, pp.res.OldBase, pp.res.NewBase
	p.Warnings = append(p.Warnings, pp.warnings...)
	if err != nil {
		return err
	}
	p.Action, p.Reason = pp.res.Action, pp.res.Reason
	if p.Action == Rebased {
		p.digest, p.manifest, p.platforms = pp.newDigest, pp.manifest, []*platformPlan{pp}
	}
	return nil
}

// child is one child of an index being planned.
type child struct {
	desc    v1.Descriptor
	plan    *platformPlan
	err     error
	dropped string // why it is not carried over, when it is not
}

// planIndex rebases every platform child of an index and rebuilds it.
func (r *Rebaser) planIndex(ctx context.Context, p *Plan) error {
	top := p.top
	inherited := annotated(top.index.Annotations, "index")
	if inherited != nil {
		p.Base, p.OldBase = inherited.name, inherited.digest
	}
	for _, d := range top.index.Manifests {
		if d.MediaType.IsIndex() {
			return fmt.Errorf("child %s is a nested index: not supported", d.Digest)
		}
	}
	children, gerr := r.planChildren(ctx, p, inherited)
	action, skipErr := p.collect(children)
	if gerr != nil {
		return gerr
	}
	switch {
	case action == Rebased:
	case action == UpToDate:
		p.Action = UpToDate
		return nil
	case skipErr != nil:
		return skipErr
	default:
		return errors.New("the index has no platform images")
	}
	p.Action = Rebased
	return r.rebuildIndex(ctx, p, children, inherited)
}

// planChildren plans the platform children of an index, up to jobs at once.
// A skipped platform does not stop the others (unless strict); an error
// does.
func (r *Rebaser) planChildren(ctx context.Context, ip *Plan, inherited *baseInfo) ([]child, error) {
	repo, top := ip.ref.Context(), ip.top
	children := make([]child, len(top.index.Manifests))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.o.jobs)
	var mu sync.Mutex
	set := func(i int, p *platformPlan, err error) {
		mu.Lock()
		children[i].plan, children[i].err = p, err
		mu.Unlock()
	}
	for i, d := range top.index.Manifests {
		children[i].desc = d
		if why := notAnImage(d); why != "" {
			children[i].dropped = fmt.Sprintf("%s (%s, %s)", d.Digest, platformString(d.Platform), why)
			continue
		}
		g.Go(func() error {
			f, err := r.fetch(gctx, repo.Digest(d.Digest.String()))
			if err == nil && f.manifest == nil {
				err = fmt.Errorf("%s child %s is not an image manifest", platformString(d.Platform), d.Digest)
			} else if err != nil {
				err = describe(fmt.Sprintf("%s manifest %s", platformString(d.Platform), d.Digest), err)
			}
			if err != nil {
				set(i, nil, err)
				return err
			}
			desc := d
			if !knownPlatform(d.Platform) {
				// No platform in the index (it is optional): the child
				// says whether it is an artifact, else its config names
				// its platform, as it does for a single image.
				if why := artifactManifest(f.manifest); why != "" {
					mu.Lock()
					children[i].dropped = fmt.Sprintf("%s (%s, %s)", d.Digest, platformString(d.Platform), why)
					mu.Unlock()
					return nil
				}
				desc.Platform = nil
			}
			p, err := r.planPlatform(gctx, ip, &platformInput{repo: repo, digest: f.digest, raw: f.raw, man: f.manifest, desc: &desc, inherited: inherited})
			set(i, p, err)
			var s *SkipError
			if errors.As(err, &s) && !r.o.strict {
				return nil // one platform without annotations does not stop the others
			}
			if err != nil {
				return fmt.Errorf("%s: %w", p.res.Platform, err)
			}
			return nil
		})
	}
	return children, g.Wait()
}

// collect adds the children's results to the report and says what the
// index as a whole gets: Rebased when a platform is, else UpToDate when one
// is, else the first platform's skip.
func (p *Plan) collect(children []child) (Action, error) {
	var action Action
	var skipErr error
	for _, c := range children {
		if c.plan == nil {
			continue
		}
		p.Platforms = append(p.Platforms, c.plan.res)
		p.Warnings = append(p.Warnings, c.plan.warnings...)
		if p.Base == "" {
			p.Base = c.plan.baseName
		}
		switch c.plan.res.Action {
		case Rebased:
			action = Rebased
		case UpToDate:
			if action == "" {
				action = UpToDate
			}
		case Skipped:
			if skipErr == nil {
				skipErr = c.err
			}
		}
	}
	return action, skipErr
}

// rebuildIndex writes the rebased index: the same descriptors in the same
// order, the rebased children's digests and sizes, children that are not
// platform images dropped, and the base annotations updated.
func (r *Rebaser) rebuildIndex(ctx context.Context, p *Plan, children []child, inherited *baseInfo) error {
	idx, err := parseObject(p.top.raw)
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	raws, err := rawArray(idx.raw("manifests"))
	if err != nil {
		return fmt.Errorf("index manifests: %w", err)
	}
	if len(raws) != len(children) {
		return errors.New("index manifests do not parse consistently")
	}
	var kept []json.RawMessage
	for i, c := range children {
		switch {
		case c.dropped != "":
			p.Dropped = append(p.Dropped, c.dropped)
			p.Warnings = append(p.Warnings, "dropped index child "+c.dropped+": it describes the old image")
			continue
		case c.plan.res.Action != Rebased:
			if c.plan.res.Action == Skipped {
				p.Warnings = append(p.Warnings, fmt.Sprintf("%s kept as it was: %s", c.plan.res.Platform, c.plan.res.Reason))
			}
			kept = append(kept, raws[i])
			continue
		}
		b, err := r.rebaseDescriptor(raws[i], c.plan)
		if err != nil {
			return fmt.Errorf("index child %d: %w", i, err)
		}
		kept = append(kept, b)
		p.platforms = append(p.platforms, c.plan)
	}
	kb, err := marshal(kept)
	if err != nil {
		return err
	}
	idx.setRaw("manifests", kb)
	if err := r.indexAnnotations(ctx, idx, inherited, p); err != nil {
		return err
	}
	ib, err := idx.bytes()
	if err != nil {
		return err
	}
	if p.digest, _, err = v1.SHA256(bytes.NewReader(ib)); err != nil {
		return err
	}
	p.manifest = rawManifest{b: ib, mt: p.top.mediaType}
	return nil
}

// indexAnnotations makes the index-level base.digest the base index's
// digest now (with WithNewBase, base.name names it too). An index without
// base annotations gets none: its children carry them.
func (r *Rebaser) indexAnnotations(ctx context.Context, idx *object, inherited *baseInfo, p *Plan) error {
	if inherited == nil || inherited.digest == "" && inherited.name == "" {
		return nil
	}
	if layout.Owns(p.ref.Context()) {
		return r.layoutIndexAnnotations(ctx, idx, inherited, p)
	}
	baseName, anns := inherited.name, []annotation(nil)
	if r.o.newBase != "" {
		baseName = r.o.newBase
		anns = append(anns, annotation{AnnotationBaseName, baseName})
	}
	if base, err := registry.ParseReference(baseName, r.nameOpts...); err == nil && inherited.digest != "" {
		if _, pinned := base.(name.Digest); !pinned || r.o.newBase != "" {
			nb, err := r.manifest(ctx, base)
			if err != nil {
				return describe("new base "+base.String(), err)
			}
			p.NewBase = nb.digest.String()
			anns = append(anns, annotation{AnnotationBaseDigest, nb.digest.String()})
		}
	}
	if err := setAnnotations(idx, anns); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	return nil
}

// rebaseDescriptor is a rebased child's index descriptor: the new digest
// and size (and no embedded data, which would be the old manifest's), the
// os.version of the new base (a Windows patch level), and its copy of the
// base annotations updated, when it has one.
func (r *Rebaser) rebaseDescriptor(raw json.RawMessage, p *platformPlan) ([]byte, error) {
	o, err := parseObject(raw)
	if err != nil {
		return nil, err
	}
	o.setRaw("digest", jsonString(p.newDigest.String()))
	if err := o.set("size", len(p.manifest.b)); err != nil {
		return nil, err
	}
	o.del("data") // the old manifest's bytes, embedded: the manifest is pushed instead
	if err := r.descriptorBase(o, p); err != nil {
		return nil, err
	}
	return o.bytes()
}

func (r *Rebaser) descriptorBase(o *object, p *platformPlan) error {
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
	if r.o.newBase != "" && !r.newBaseInLayout() {
		anns = append([]annotation{{AnnotationBaseName, r.o.newBase}}, anns...)
	}
	return setAnnotations(o, anns)
}
