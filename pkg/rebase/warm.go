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
//   - once a platform's annotations do not make it up to date: the old
//     base's and the new base's manifests for its platform (read either
//     way then), beside the image's own config; and, the annotations
//     naming a base that has moved, the bases' configs and the referrers
//     check of its old digest and the index's (referrerCheck);
//   - with --old-base/--new-base, the configs and the referrers check once
//     the layers say the platform is to be rebased.
//
// An image found up to date costs the requests it did before, but for
// two guesses: the top manifest's base may not be the one its platforms
// name (then it was resolved for nothing), and an image whose annotations
// name a base that moved may be on the new base already (rebased by a tool
// that left them): then the configs and the referrers check were asked
// for nothing. A warm-up that fails
// says nothing: the plan asks again (waiting for the one in flight, whose
// error after its retries it shares), and reports what it gets.

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

// warmBases reads, in the background, what forPlatform will read of the old
// and the new base for platform (the index's; nil when it gives none: then
// only the bases' top manifests), and with configs what planRebase reads.
func (r *Rebaser) warmBases(w *warmer, b *bases, newBase *fetched, platform *v1.Platform, configs bool) {
	w.do(func(ctx context.Context) { r.warmBase(ctx, b.old, platform, configs) })
	w.do(func(ctx context.Context) { r.warmBase(ctx, newBase.ref, platform, configs) })
}

// warmBase reads ref and, when it is an index and its child for platform
// is certain, that child; a single image's config too, which forPlatform
// reads to check its platform, and with configs the child's.
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
		if f, err = r.manifest(ctx, ref.Context().Digest(d.Digest.String())); err != nil || !configs {
			return
		}
	}
	if f.manifest != nil {
		r.config(ctx, ref.Context(), f.manifest.Config.Digest)
	}
}
