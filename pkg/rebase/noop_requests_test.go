package rebase_test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// With --old-base/--new-base, an image already on the new base is found up
// to date with the requests 8a47d5d made: no referrers check, no base
// configs asked for ahead of need (the warm-ups of issue 17 asked for both).
func TestFlagsNoOpAsksNoMore(t *testing.T) {
	w := newWorld(t, registry.WithReferrersSupport(true))
	w.base("base", "v1", rebasetest.BaseSpec{})
	app := w.app("app", rebasetest.AppSpec{Base: "base:v1", NoAnnotations: true})
	w.base("base", "v2", rebasetest.BaseSpec{})
	flags := []rebase.Option{rebase.WithOldBase(w.ref("base:v1")), rebase.WithNewBase(w.ref("base:v2"))}
	res := newRebaser(flags...).Rebase(w.ctx, app)
	if res.Action != rebase.Rebased {
		t.Fatalf("%s: %s", res.Action, res.Reason)
	}
	w.reg.Reset()
	again := newRebaser(flags...).Rebase(w.ctx, res.Output)
	if again.Action != rebase.UpToDate {
		t.Fatalf("again: %s: %s", again.Action, again.Reason)
	}
	counts := w.reg.Counts()
	// The index, its 2 platform manifests and their configs; both bases and
	// their 2 platform manifests; a ping.
	want := map[string]int{"GET ping": 1, "GET manifest": 9, "GET blob": 2}
	if !maps.Equal(counts, want) {
		t.Errorf("the no-op made %v, want %v", counts, want)
	}
}

// An index with one platform rebased and one skipped (no annotations) asks
// the referrers API about the index and the rebased platform only: the
// skipped one's referrers are not reported, so not asked for.
func TestReferrersAskedForRebasedDigestsOnly(t *testing.T) {
	w := newWorld(t, registry.WithReferrersSupport(true))
	w.base("base", "v1", rebasetest.BaseSpec{})
	w.tag("base:v1", "base:stable")
	app, armDigest := w.armUnannotated(w.app("app", rebasetest.AppSpec{Base: "base:stable"}))
	w.base("base", "v2", rebasetest.BaseSpec{})
	w.tag("base:v2", "base:stable")

	w.reg.Reset()
	res := newRebaser(rebase.WithDryRun(true)).Rebase(w.ctx, app)
	if res.Action != rebase.Rebased {
		t.Fatalf("%s: %s", res.Action, res.Reason)
	}
	var asked []string
	for _, q := range w.reg.Requests() {
		if rebasetest.Kind(q.Path) == "referrers" {
			asked = append(asked, q.Path[strings.LastIndex(q.Path, "/")+1:])
		}
	}
	slices.Sort(asked)
	want := []string{digestOf(app)}
	for _, p := range res.Platforms {
		if p.Action == rebase.Rebased {
			want = append(want, p.Digest)
		}
	}
	slices.Sort(want)
	if !slices.Equal(asked, want) {
		t.Errorf("referrers asked for %q, want the index and the rebased platform %q (arm64 %s skipped)", asked, want, armDigest)
	}
}
