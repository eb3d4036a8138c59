package rebase

import (
	"context"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// A registry 20-150 ms away makes wall time a count of round trips, so a
// plan asks for what it will need as soon as it knows what that is, and
// reads the answers later through the run's memos (Rebaser.manifest,
// Rebaser.config), which share one request between every caller:
//
//   - the new base's name, as soon as the image's top manifest is read
//     (baseFinder.early), beside the image's platform manifests;
//   - once a platform is known not to be up to date: the old base's and
//     the new base's manifests for its platform and their configs, beside
//     the image's own config; and the referrers check (referrerCheck).
//
// Nothing is asked for that the plan would not ask for later: an image
// found up to date costs the same requests as before. A warm-up that fails
// says nothing: the plan asks again, and reports what it gets.

// warmer runs the warm-ups of one Plan, and stops them when it is done.
type warmer struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newWarmer(ctx context.Context) *warmer {
	ctx, cancel := context.WithCancel(ctx)
	return &warmer{ctx: ctx, cancel: cancel}
}

// do runs f in the background, with the warmer's context.
func (w *warmer) do(f func(context.Context)) {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		f(w.ctx)
	}()
}

// stop cancels what is still running (an error ended the plan early) and
// waits for it: a Plan leaves nothing behind. A memo whose computation is
// cancelled forgets it, so another image waiting for the same answer asks
// for itself.
func (w *warmer) stop() {
	w.cancel()
	w.wg.Wait()
}

// warmManifests resolves refs in the background.
func (r *Rebaser) warmManifests(w *warmer, refs []name.Reference) {
	for _, ref := range refs {
		w.do(func(ctx context.Context) { r.manifest(ctx, ref) })
	}
}

// warmBases reads, in the background, what forPlatform and planRebase will
// read of the old and the new base for platform (the index's; nil when it
// gives none: then only the bases' top manifests).
func (r *Rebaser) warmBases(w *warmer, b *bases, newBase *fetched, platform *v1.Platform) {
	// With the flags, an image on the new base already is found from the
	// manifests alone: the configs wait until the plan needs them.
	configs := b.info != nil
	w.do(func(ctx context.Context) { r.warmBase(ctx, b.old, platform, configs) })
	w.do(func(ctx context.Context) { r.warmBase(ctx, newBase.ref, platform, configs) })
}

// warmBase reads ref, its child for platform when it is an index and the
// child is certain, and that manifest's config (always for a single
// image, which forPlatform reads to check its platform).
func (r *Rebaser) warmBase(ctx context.Context, ref name.Reference, platform *v1.Platform, configs bool) {
	f, err := r.manifest(ctx, ref)
	if err != nil {
		return
	}
	if f.index != nil {
		if !knownPlatform(platform) {
			return
		}
		d, candidates, ok := childFor(f.index, platform)
		if !ok || len(candidates) > 0 {
			return
		}
		if f, err = r.manifest(ctx, ref.Context().Digest(d.Digest.String())); err != nil || f.manifest == nil || !configs {
			return
		}
	}
	if f.manifest != nil {
		r.config(ctx, ref.Context(), f.manifest.Config.Digest)
	}
}
