package rebase_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// checkRebased asserts what a user would check on a rebased multi-platform
// image: every platform's layers are the new base's plus the app's own, the
// annotations point at the new base, the files show the new base, and the
// config still describes the same app.
func checkRebased(t *testing.T, w *world, oldRef, newRef, newBaseRef string, plats ...v1.Platform) {
	t.Helper()
	oldIdx, newIdx := w.index(oldRef), w.index(newRef)
	if got, want := w.get(newRef).MediaType, w.get(oldRef).MediaType; got != want {
		t.Errorf("index media type %s, want %s", got, want)
	}
	if got, want := newIdx.Annotations[rebase.AnnotationBaseName], oldIdx.Annotations[rebase.AnnotationBaseName]; got != want {
		t.Errorf("index base.name %q, want %q", got, want)
	}
	if got, want := newIdx.Annotations[rebase.AnnotationBaseDigest], w.get(newBaseRef).Digest.String(); got != want {
		t.Errorf("index base.digest %s, want the new base index %s", got, want)
	}
	for _, p := range plats {
		oldChild, oldM := w.child(oldRef, p)
		newChild, newM := w.child(newRef, p)
		baseChild, baseM := w.child(newBaseRef, p)
		if newM.MediaType != oldM.MediaType {
			t.Errorf("%v: manifest media type %s, want %s", p, newM.MediaType, oldM.MediaType)
		}
		appLayers := oldM.Layers[len(oldM.Layers)-2:]
		want := append(digestsOf(baseM.Layers), digestsOf(appLayers)...)
		if got := digestsOf(newM.Layers); !slices.Equal(got, want) {
			t.Errorf("%v: layers\n got %v\nwant %v (new base + app)", p, got, want)
		}
		for _, l := range newM.Layers {
			if l.MediaType != oldM.Layers[0].MediaType {
				t.Errorf("%v: layer media type %s in a %s manifest", p, l.MediaType, newM.MediaType)
			}
		}
		if got := newM.Annotations[rebase.AnnotationBaseDigest]; got != digestOf(baseChild) {
			t.Errorf("%v: base.digest %s, want the new base's %v child %s", p, got, p, digestOf(baseChild))
		}
		if got, want := newM.Annotations[rebase.AnnotationBaseName], oldM.Annotations[rebase.AnnotationBaseName]; got != want {
			t.Errorf("%v: base.name %q, want %q", p, got, want)
		}
		oldCfg, newCfg, baseCfg := w.config(oldChild, oldM), w.config(newChild, newM), w.config(baseChild, baseM)
		wantDiff := append(slices.Clone(baseCfg.RootFS.DiffIDs), oldCfg.RootFS.DiffIDs[len(oldCfg.RootFS.DiffIDs)-2:]...)
		if !slices.Equal(newCfg.RootFS.DiffIDs, wantDiff) {
			t.Errorf("%v: diff_ids %v, want %v", p, newCfg.RootFS.DiffIDs, wantDiff)
		}
		if newCfg.Author != oldCfg.Author || !newCfg.Created.Equal(oldCfg.Created.Time) || newCfg.Variant != oldCfg.Variant ||
			newCfg.Architecture != oldCfg.Architecture || !slices.Equal(newCfg.Config.Entrypoint, oldCfg.Config.Entrypoint) {
			t.Errorf("%v: config changed beyond the base: %+v", p, newCfg)
		}
		files, err := rebasetest.Files(w.ctx, newRef, p)
		if err != nil {
			t.Fatal(err)
		}
		baseVersion := strings.Fields(files["etc/base-release"])
		if len(baseVersion) == 0 || !strings.Contains(newBaseRef, baseVersion[0]) && !strings.HasSuffix(newBaseRef, "stable") {
			t.Errorf("%v: /etc/base-release = %q after rebase onto %s", p, files["etc/base-release"], newBaseRef)
		}
		if len(baseVersion) > 1 && baseVersion[1] != strings.TrimSuffix(fmt.Sprintf("%s/%s/%s", p.OS, p.Architecture, p.Variant), "/") {
			t.Errorf("%v: /etc/base-release = %q: stitched onto another platform's base", p, files["etc/base-release"])
		}
		if _, ok := files["var/run/ko/app.txt"]; !ok {
			t.Errorf("%v: the kodata layer is gone", p)
		}
	}
}

func TestRebaseMultiPlatform(t *testing.T) {
	for _, docker := range []bool{false, true} {
		t.Run(fmt.Sprintf("docker=%v", docker), func(t *testing.T) {
			w := newWorld(t)
			w.base("base", "v1", rebasetest.BaseSpec{Docker: docker})
			w.tag("base:v1", "base:stable")
			app := w.app("app", rebasetest.AppSpec{Base: "base:stable"})
			w.base("base", "v2", rebasetest.BaseSpec{Docker: docker})
			w.tag("base:v2", "base:stable")

			res := newRebaser().Rebase(w.ctx, app)
			if res.Action != rebase.Rebased {
				t.Fatalf("Rebase(%s) = %s: %s", app, res.Action, res.Reason)
			}
			if !strings.HasPrefix(res.Output, w.ref("app@sha256:")) || res.Output == app {
				t.Fatalf("output %q does not keep the input's spelling", res.Output)
			}
			checkRebased(t, w, app, res.Output, w.ref("base:v2"), amd64, arm64)
			if len(res.Platforms) != 2 || res.Platforms[0].Platform != "linux/amd64" || res.Platforms[1].Platform != "linux/arm64/v8" {
				t.Errorf("report platforms %+v", res.Platforms)
			}

			// Rebasing the output again is a no-op that pushes nothing.
			w.reg.Reset()
			again := newRebaser().Rebase(w.ctx, res.Output)
			if again.Action != rebase.UpToDate || again.Output != res.Output {
				t.Errorf("second rebase: %s %q (%s), want up to date", again.Action, again.Output, again.Reason)
			}
			if wr := w.reg.Writes(); len(wr) > 0 {
				t.Errorf("second rebase wrote %v", wr)
			}
		})
	}
}

func TestUpToDatePushesNothing(t *testing.T) {
	w := newWorld(t)
	w.base("base", "v1", rebasetest.BaseSpec{})
	w.tag("base:v1", "base:stable")
	app := w.app("app", rebasetest.AppSpec{Base: "base:stable"})
	tagged := w.ref("app:latest")

	w.reg.Reset()
	r := newRebaser()
	for _, in := range []string{app, tagged} {
		res := r.Rebase(w.ctx, in)
		if res.Action != rebase.UpToDate || res.Output != in {
			t.Errorf("Rebase(%s) = %s %q (%s), want up to date and the input echoed", in, res.Action, res.Output, res.Reason)
		}
	}
	if wr := w.reg.Writes(); len(wr) > 0 {
		t.Errorf("wrote %v", wr)
	}
	// A no-op reads each manifest once and the base once per run, with its
	// child for each platform (up to date is decided by layers, never by
	// annotations alone): no config, no old base.
	c := w.reg.Counts()
	if c["GET blob"] != 0 {
		t.Errorf("a no-op fetched %d blobs", c["GET blob"])
	}
	// 2 images x (index + 2 children) + 1 base resolution + 2 base children.
	if got := c["GET manifest"]; got != 9 {
		t.Errorf("GET manifest = %d, want 9; all: %v", got, w.reg.Requests())
	}
}

func TestSinglePlatformPicksItsOwnPlatform(t *testing.T) {
	w := newWorld(t)
	app := w.movedApp("app", rebasetest.AppSpec{Base: "base:stable", Platforms: []v1.Platform{arm64}})

	res := newRebaser().Rebase(w.ctx, app)
	if res.Action != rebase.Rebased {
		t.Fatalf("%s: %s", res.Action, res.Reason)
	}
	m := w.manifest(res.Output)
	baseChild, baseM := w.child(w.ref("base:v2"), arm64)
	if got, want := digestsOf(m.Layers[:len(baseM.Layers)]), digestsOf(baseM.Layers); !slices.Equal(got, want) {
		t.Errorf("layers %v, want the arm64 base's %v", got, want)
	}
	if m.Annotations[rebase.AnnotationBaseDigest] != digestOf(baseChild) {
		t.Errorf("base.digest %s, want %s", m.Annotations[rebase.AnnotationBaseDigest], digestOf(baseChild))
	}
	files, err := rebasetest.Files(w.ctx, res.Output, arm64)
	if err != nil {
		t.Fatal(err)
	}
	if got := files["etc/base-release"]; got != "v2 linux/arm64/v8\n" {
		t.Errorf("/etc/base-release = %q", got)
	}
	if cf := w.config(res.Output, m); cf.Architecture != "arm64" || cf.Variant != "v8" {
		t.Errorf("config platform %s/%s", cf.Architecture, cf.Variant)
	}
}

func TestSkipsAndFailures(t *testing.T) {
	w := newWorld(t)
	v1d := w.base("base", "v1", rebasetest.BaseSpec{})
	w.tag("base:v1", "base:stable")
	plain := w.app("plain", rebasetest.AppSpec{Base: "base:stable", NoAnnotations: true})
	pinned := w.app("pinned", rebasetest.AppSpec{Base: "base@" + v1d.String()})
	single := w.app("single", rebasetest.AppSpec{Base: "base:stable", Platforms: []v1.Platform{arm64}})
	multi := w.app("multi", rebasetest.AppSpec{Base: "base:stable"})
	single64 := w.app("single64", rebasetest.AppSpec{Base: "base:stable", Platforms: []v1.Platform{amd64}})
	// v2 lacks arm64.
	w.base("base", "v2", rebasetest.BaseSpec{Platforms: []v1.Platform{amd64}})
	w.tag("base:v2", "base:stable")
	// wrong: single64's manifest claims base v3's amd64 child as its old base.
	w.base("base", "v3", rebasetest.BaseSpec{})
	v3amd, _ := w.child(w.ref("base:v3"), amd64)
	sm := w.get(single64)
	wrong := w.putManifest("wrong", editJSON(t, sm.Manifest, func(m map[string]any) {
		m["annotations"].(map[string]any)[rebase.AnnotationBaseDigest] = digestOf(v3amd)
	}), sm.MediaType)
	// the manifest names a config only in "single64": copy it over.
	w.putBlob("wrong", w.rawConfig(single64, w.manifest(single64)))

	r := newRebaser()
	cases := []struct {
		in     string
		action rebase.Action
		reason string
	}{
		{plain, rebase.Skipped, "no base annotations"},
		{pinned, rebase.Skipped, "base is pinned by digest"},
		{multi, rebase.Failed, "platform linux/arm64/v8 missing from new base"},
		{single, rebase.Failed, "platform linux/arm64/v8 missing from new base"},
		{wrong, rebase.Failed, "layers do not start with the old base"},
		{w.ref("nothere:latest"), rebase.Failed, "image not found"},
		{"not a ref", rebase.Failed, "not an image reference"},
		{w.ref("base@sha256:" + strings.Repeat("0", 64)), rebase.Failed, "not found"},
	}
	w.reg.Reset()
	for _, c := range cases {
		res := r.Rebase(w.ctx, c.in)
		if res.Action != c.action || !strings.Contains(res.Reason, c.reason) || res.Output != c.in {
			t.Errorf("Rebase(%s) = %s %q (%s), want %s (%s) and the input echoed", c.in, res.Action, res.Output, res.Reason, c.action, c.reason)
		}
	}
	if wr := w.reg.Writes(); len(wr) > 0 {
		t.Errorf("skips and failures wrote %v", wr)
	}
	if res := newRebaser(rebase.WithStrict(true)).Rebase(w.ctx, plain); res.Action != rebase.Failed {
		t.Errorf("strict: no annotations gave %s, want failed", res.Action)
	}
}

func TestAttestationChildDropped(t *testing.T) {
	w := newWorld(t)
	w.base("base", "v1", rebasetest.BaseSpec{})
	w.tag("base:v1", "base:stable")
	app := w.app("app", rebasetest.AppSpec{Base: "base:stable", Attestation: true})
	if n := len(w.index(app).Manifests); n != 3 {
		t.Fatalf("test app has %d children, want 3", n)
	}
	// Up to date: nothing dropped, nothing pushed.
	if res := newRebaser().Rebase(w.ctx, app); res.Action != rebase.UpToDate {
		t.Fatalf("before the base moved: %s (%s)", res.Action, res.Reason)
	}
	w.base("base", "v2", rebasetest.BaseSpec{})
	w.tag("base:v2", "base:stable")
	res := newRebaser().Rebase(w.ctx, app)
	if res.Action != rebase.Rebased {
		t.Fatalf("%s: %s", res.Action, res.Reason)
	}
	idx := w.index(res.Output)
	if len(idx.Manifests) != 2 {
		t.Errorf("rebased index has %d children, want the 2 platforms", len(idx.Manifests))
	}
	if len(res.Dropped) != 1 || !strings.Contains(res.Dropped[0], "attestation-manifest") {
		t.Errorf("dropped = %v", res.Dropped)
	}
	if !strings.Contains(strings.Join(res.Warnings, "\n"), "dropped index child") {
		t.Errorf("warnings %q do not warn about the dropped child", res.Warnings)
	}
	checkRebased(t, w, app, res.Output, w.ref("base:v2"), amd64, arm64)
}

func TestCrossRegistryBase(t *testing.T) {
	w := newWorld(t)  // the apps
	bw := newWorld(t) // the bases
	bw.base("base", "v1", rebasetest.BaseSpec{})
	bw.tag("base:v1", "base:stable")
	d, err := rebasetest.PushApp(w.ctx, w.ref("app:latest"), rebasetest.AppSpec{Base: bw.ref("base:stable")})
	if err != nil {
		t.Fatal(err)
	}
	app := w.ref("app:latest@" + d.String())
	bw.base("base", "v2", rebasetest.BaseSpec{})
	bw.tag("base:v2", "base:stable")

	w.reg.Reset()
	bw.reg.Reset()
	res := newRebaser().Rebase(w.ctx, app)
	if res.Action != rebase.Rebased {
		t.Fatalf("%s: %s", res.Action, res.Reason)
	}
	if !strings.HasPrefix(res.Output, w.ref("app:latest@sha256:")) {
		t.Errorf("output %q does not keep repo:tag@digest", res.Output)
	}
	if wr := bw.reg.Writes(); len(wr) > 0 {
		t.Errorf("wrote to the base registry: %v", wr)
	}
	// The new base layers were streamed: read from the base registry, uploaded to the app's.
	if c := bw.reg.Counts(); c["GET blob"] < 4 {
		t.Errorf("base registry served %d blob GETs, want the 4 new layers and configs: %v", c["GET blob"], bw.reg.Requests())
	}
	for _, p := range []v1.Platform{amd64, arm64} {
		_, baseM := bw.child(bw.ref("base:v2"), p)
		_, m := w.child(res.Output, p)
		if got := digestsOf(m.Layers[:2]); !slices.Equal(got, digestsOf(baseM.Layers)) {
			t.Errorf("%v: layers %v, want new base's %v", p, got, digestsOf(baseM.Layers))
		}
		files, err := rebasetest.Files(w.ctx, res.Output, p)
		if err != nil {
			t.Fatalf("%v: reading the rebased image from the app registry alone: %v", p, err)
		}
		if !strings.HasPrefix(files["etc/base-release"], "v2 ") {
			t.Errorf("%v: /etc/base-release = %q", p, files["etc/base-release"])
		}
	}
}

// A base that is one image, not an index: rebasing onto it works for its own
// platform, and an image of another platform is never stitched onto it.
func TestSingleManifestBase(t *testing.T) {
	w := newWorld(t)
	w.base("base", "v1", rebasetest.BaseSpec{})
	w.tag("base:v1", "base:stable")
	armApp := w.app("armapp", rebasetest.AppSpec{Base: "base:stable", Platforms: []v1.Platform{arm64}})
	w.base("single", "v1", rebasetest.BaseSpec{Single: true})
	w.tag("single:v1", "single:stable")
	amdApp := w.app("amdapp", rebasetest.AppSpec{Base: "single:stable"})

	w.base("single", "v2", rebasetest.BaseSpec{Single: true})
	w.tag("single:v2", "single:stable")
	w.tag("single:v2", "base:stable") // base:stable is now a single amd64 image

	r := newRebaser()
	res := r.Rebase(w.ctx, amdApp)
	if res.Action != rebase.Rebased {
		t.Fatalf("amd64 app on a single amd64 base: %s (%s)", res.Action, res.Reason)
	}
	m, base := w.manifest(res.Output), w.manifest(w.ref("single:v2"))
	if got := digestsOf(m.Layers[:len(base.Layers)]); !slices.Equal(got, digestsOf(base.Layers)) {
		t.Errorf("layers %v, want %v", got, digestsOf(base.Layers))
	}
	if got, want := m.Annotations[rebase.AnnotationBaseDigest], w.get(w.ref("single:v2")).Digest.String(); got != want {
		t.Errorf("base.digest %s, want %s", got, want)
	}
	bad := r.Rebase(w.ctx, armApp)
	if bad.Action != rebase.Failed || !strings.Contains(bad.Reason, "platform linux/arm64/v8 missing from new base") {
		t.Errorf("arm64 app onto a single amd64 base: %s (%s)", bad.Action, bad.Reason)
	}
}
