package rebase

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/rebasekit/rebasekit/pkg/store"
)

// Write pushes a plan into the image's own repository, the only one the
// engine ever writes to: for each rebased platform the new base's layers
// (mounted from the base's repository on the same registry, streamed from
// another registry, never re-uploaded when present), its config and its
// manifest; then the index; all by digest. With WithTag it then moves the
// input's tag, while the tag still names the image rebased. A plan with
// nothing to rebase writes nothing. Write records in the plan's Result what
// it pushed and the tag it moved.
func (r *Rebaser) Write(ctx context.Context, p *Plan) error {
	if p == nil || p.Action != Rebased {
		return nil
	}
	repo := p.ref.Context()
	w, err := r.push(ctx, repo, p)
	p.CopiedBytes = p.copiedBytes()
	p.pushed = map[string]bool{}
	for _, pp := range p.platforms {
		if pp.pushed.Load() {
			p.pushed[pp.newDigest.String()] = true
		}
	}
	if err != nil {
		return describe("pushing to "+repo.String(), err)
	}
	if r.o.tag && p.written.Tag != "" {
		tag := repo.Tag(p.written.Tag)
		if err := r.moveTag(ctx, w, tag, p.top.digest, p); err != nil {
			return err
		}
		p.Tagged = r.spell(tag)
	}
	return nil
}

// moveTag points tag at the rebased image, but only while it still names the
// image that was rebased (was), or already names the result: a tag that has
// moved on to a newer image since (a new release, another run) is never
// rewound. The check is made right before the PUT; the registry API has no
// compare-and-swap, so a push to the tag between the two requests can still
// be overwritten (a window of one round trip).
func (r *Rebaser) moveTag(ctx context.Context, w store.Repository, tag name.Tag, was v1.Hash, p *Plan) error {
	now, err := w.TagDigest(ctx, tag.TagStr())
	if isNotFound(err) {
		return fmt.Errorf("pushed %s but did not move tag %s: the tag no longer exists", p.digest, tag)
	}
	if err != nil {
		return describe(fmt.Sprintf("pushed %s but checking tag %s", p.digest, tag), err)
	}
	switch now {
	case p.digest:
		return nil // moved already (an earlier run): nothing to do
	case was:
	default:
		return fmt.Errorf("pushed %s but did not move tag %s: it now names %s, not the image rebased (%s); rebase what it names now", p.digest, tag, now, was)
	}
	if err := w.PutManifest(ctx, tag.TagStr(), p.manifest.b, p.manifest.mt); err != nil {
		return describe(fmt.Sprintf("pushed %s but moving tag %s", p.digest, tag), err)
	}
	return nil
}

// push writes a plan into repo, the image's own repository and the only one
// the engine ever writes to: for each rebased platform the new base's layers
// (mounted from the base's repository on the same registry, streamed from
// another registry, never re-uploaded when present), its config and its
// manifest; then the index. Everything is pushed by digest.
func (r *Rebaser) push(ctx context.Context, repo name.Repository, p *Plan) (store.Repository, error) {
	w, err := r.open(ctx, repo, mountSource(repo, p), true)
	if err != nil {
		return nil, err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.o.jobs)
	for _, pp := range p.platforms {
		g.Go(func() error { return r.pushPlatform(gctx, repo, w, pp) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if len(p.platforms) == 1 && p.platforms[0].newDigest == p.digest {
		return w, nil // a single image: its manifest is the top
	}
	return w, w.PutManifest(ctx, p.digest.String(), p.manifest.b, p.manifest.mt)
}

// mountSource is the repository the new base's layers are mounted from: the
// base's, or repo itself when nothing is to be mounted; the one the
// referrer check opened repo with, when it did, so that a run opens one
// writer (one token) for the image's repository.
func mountSource(repo name.Repository, p *Plan) name.Repository {
	if p.refCheck.opened != nil {
		return p.refCheck.from
	}
	for _, pp := range p.platforms {
		if len(pp.layers) > 0 {
			return pp.layers[0].ref.Context()
		}
	}
	return repo
}

// clientFrom is the authenticated client of repo for the reads Plan makes
// with it (the referrers API): the writer Write will push with (layers
// mounted from from), or with dry run a reader with pull access only. Both
// cost the registry the same requests, so a dry run reads exactly what a
// real run reads.
func (r *Rebaser) clientFrom(ctx context.Context, repo, from name.Repository) (store.Repository, error) {
	if r.o.dryRun {
		return r.open(ctx, repo, repo, false)
	}
	return r.open(ctx, repo, from, true)
}

// open is the destination's repo, opened to write (push) with layers from
// from, or to read.
func (r *Rebaser) open(ctx context.Context, repo, from name.Repository, push bool) (store.Repository, error) {
	return r.dst.Open(ctx, repo, from, push)
}

func (r *Rebaser) pushPlatform(ctx context.Context, repo name.Repository, w store.Repository, pp *platformPlan) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.o.jobs)
	for _, l := range pp.layers {
		g.Go(func() error {
			n, err := w.PutLayer(gctx, l.ref, l.desc)
			l.copied.Add(n)
			return err
		})
	}
	g.Go(func() error { return w.PutBlob(gctx, pp.config.d, pp.config.b) })
	if err := g.Wait(); err != nil {
		return err
	}
	r.o.logger.Printf("%s: pushing %s manifest %s", repo, pp.res.Platform, pp.newDigest)
	if err := w.PutManifest(ctx, pp.newDigest.String(), pp.manifest.b, pp.manifest.mt); err != nil {
		return err
	}
	pp.pushed.Store(true)
	return nil
}

// copiedBytes is how many bytes of the plan's new-base layers were read
// from another registry by Write.
func (p *Plan) copiedBytes() int64 {
	var n int64
	for _, pp := range p.platforms {
		for _, l := range pp.layers {
			n += l.copied.Load()
		}
	}
	return n
}
