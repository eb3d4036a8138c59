package rebase_test

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// A single image whose config and manifest carry fields crane rebase drops:
// everything but the base's layers, diff_ids and history, and the config
// settings that follow the base, must come out as it went in.
func TestKeepsEveryOtherField(t *testing.T) {
	w := newWorld(t)
	w.base("base", "v1", rebasetest.BaseSpec{})
	w.tag("base:v1", "base:stable")
	orig := w.app("app", rebasetest.AppSpec{Base: "base:stable", Platforms: []v1.Platform{arm64}})
	om := w.get(orig)
	m := w.manifest(orig)

	// Add fields a builder might write: os.features, unknown extensions.
	cfg := editJSON(t, w.rawConfig(orig, m), func(c map[string]any) {
		c["os.features"] = []any{"feature-x"}
		c["x-custom"] = map[string]any{"kept": true, "n": 1.5}
		c["config"].(map[string]any)["Labels"] = map[string]any{"org.example": "<label & more>"}
	})
	cd := w.putBlob("app", cfg)
	raw := editJSON(t, om.Manifest, func(mm map[string]any) {
		c := mm["config"].(map[string]any)
		c["digest"], c["size"] = cd.String(), len(cfg)
		mm["annotations"].(map[string]any)["org.opencontainers.image.source"] = "https://example.com/app"
		mm["x-manifest-extension"] = "kept"
	})
	app := w.putManifest("app", raw, om.MediaType)

	w.base("base", "v2", rebasetest.BaseSpec{})
	w.tag("base:v2", "base:stable")
	res := newRebaser().Rebase(w.ctx, app)
	if res.Action != rebase.Rebased {
		t.Fatalf("%s: %s", res.Action, res.Reason)
	}
	nd := w.get(res.Output)
	if nd.MediaType != om.MediaType {
		t.Errorf("media type %s, want %s", nd.MediaType, om.MediaType)
	}
	var before, after map[string]json.RawMessage
	json.Unmarshal(raw, &before)
	json.Unmarshal(nd.Manifest, &after)
	for k := range before {
		switch k {
		case "layers", "config", "annotations":
			continue
		}
		if !bytes.Equal(before[k], after[k]) {
			t.Errorf("manifest %s: %s, want %s", k, after[k], before[k])
		}
	}
	nm := w.manifest(res.Output)
	if nm.Annotations["org.opencontainers.image.source"] != "https://example.com/app" {
		t.Errorf("annotations %v lost a key", nm.Annotations)
	}
	if nm.Config.MediaType != m.Config.MediaType {
		t.Errorf("config media type %s, want %s", nm.Config.MediaType, m.Config.MediaType)
	}

	newCfg := w.rawConfig(res.Output, nm)
	var cb, ca map[string]json.RawMessage
	json.Unmarshal(cfg, &cb)
	json.Unmarshal(newCfg, &ca)
	// The config object follows the base where the image inherited it
	// (configmerge.go): the base's BASE_VERSION variable is v2's.
	cb["config"] = bytes.Replace(cb["config"], []byte("BASE_VERSION=v1"), []byte("BASE_VERSION=v2"), 1)
	for k := range cb {
		if k == "rootfs" || k == "history" {
			continue
		}
		if !jsonEqual(cb[k], ca[k]) {
			t.Errorf("config %s: %s, want %s", k, ca[k], cb[k])
		}
	}
	if len(ca) != len(cb) {
		t.Errorf("config has keys %v, had %v", keys(ca), keys(cb))
	}
	// History: the new base's entries, then the app's own.
	cf := w.config(res.Output, nm)
	baseChild, baseM := w.child(w.ref("base:v2"), arm64)
	bcf := w.config(baseChild, baseM)
	if len(cf.History) != len(bcf.History)+2 || cf.History[0].CreatedBy != "base v2 layer 0" || cf.History[len(cf.History)-1].Comment != "go build output, at /ko-app/app" {
		t.Errorf("history %+v", cf.History)
	}
	// Same inputs, same digest: a second engine computes the same image.
	if again := newRebaser(rebase.WithDryRun(true)).Rebase(w.ctx, app); again.Output != res.Output {
		t.Errorf("not reproducible: %s then %s", res.Output, again.Output)
	}
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return bytes.Equal(xb, yb)
}

func keys(m map[string]json.RawMessage) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	slices.Sort(k)
	return k
}

// rules_oci-style bases have no history: the layers must still be right (the
// kodata layer kept) and the image's own history kept, with a note.
func TestBaseWithoutHistory(t *testing.T) {
	w := newWorld(t)
	w.base("base", "v1", rebasetest.BaseSpec{NoHistory: true})
	w.tag("base:v1", "base:stable")
	app := w.app("app", rebasetest.AppSpec{Base: "base:stable"})
	w.base("base", "v2", rebasetest.BaseSpec{NoHistory: true})
	w.tag("base:v2", "base:stable")

	res := newRebaser().Rebase(w.ctx, app)
	if res.Action != rebase.Rebased {
		t.Fatalf("%s: %s", res.Action, res.Reason)
	}
	checkRebased(t, w, app, res.Output, w.ref("base:v2"), amd64, arm64)
	for _, p := range []v1.Platform{amd64, arm64} {
		oc, om := w.child(app, p)
		nc, nm := w.child(res.Output, p)
		if oh, nh := w.config(oc, om).History, w.config(nc, nm).History; len(nh) != len(oh) || len(nh) != 2 {
			t.Errorf("%v: history %+v, want the image's own %+v", p, nh, oh)
		}
	}
	for _, p := range res.Platforms {
		if !strings.Contains(p.History, "kept the image's history") {
			t.Errorf("%s: report says %q about history", p.Platform, p.History)
		}
	}
}

// --old-base/--new-base for images without annotations: the result names
// the new base in its annotations (as crane rebase does), so it is up to
// date for the same flags and for a run without them.
func TestOverrideBases(t *testing.T) {
	w := newWorld(t)
	w.base("base", "v1", rebasetest.BaseSpec{})
	app := w.app("app", rebasetest.AppSpec{Base: "base:v1", NoAnnotations: true})
	w.base("base", "v2", rebasetest.BaseSpec{})

	if res := newRebaser().Rebase(w.ctx, app); res.Action != rebase.Skipped {
		t.Fatalf("without flags: %s (%s), want skipped", res.Action, res.Reason)
	}
	r := newRebaser(rebase.WithOldBase(w.ref("base:v1")), rebase.WithNewBase(w.ref("base:v2")))
	res := r.Rebase(w.ctx, app)
	if res.Action != rebase.Rebased {
		t.Fatalf("%s: %s", res.Action, res.Reason)
	}
	for _, p := range []v1.Platform{amd64, arm64} {
		_, baseM := w.child(w.ref("base:v2"), p)
		_, m := w.child(res.Output, p)
		if got := digestsOf(m.Layers[:2]); !slices.Equal(got, digestsOf(baseM.Layers)) {
			t.Errorf("%v: layers %v, want %v", p, got, digestsOf(baseM.Layers))
		}
		baseChild, _ := w.child(w.ref("base:v2"), p)
		want := map[string]string{rebase.AnnotationBaseName: w.ref("base:v2"), rebase.AnnotationBaseDigest: digestOf(baseChild)}
		if !maps.Equal(m.Annotations, want) {
			t.Errorf("%v: annotations %v, want %v", p, m.Annotations, want)
		}
	}
	if a := w.index(res.Output).Annotations; len(a) != 0 {
		t.Errorf("index annotations %v: an index without them gets none, its children carry them", a)
	}
	for _, again := range []*rebase.Rebaser{
		newRebaser(rebase.WithOldBase(w.ref("base:v1")), rebase.WithNewBase(w.ref("base:v2"))),
		newRebaser(),
	} {
		w.reg.Reset()
		if res := again.Rebase(w.ctx, res.Output); res.Action != rebase.UpToDate {
			t.Errorf("second run: %s (%s)", res.Action, res.Reason)
		}
		if wr := w.reg.Writes(); len(wr) > 0 {
			t.Errorf("second run wrote %v", wr)
		}
	}
	if _, err := rebase.New(rebase.WithOldBase("x")); err == nil || err.Error() != "give both the old base and the new base, or neither" {
		t.Errorf("only an old base: New says %v", err)
	}
}

// A crafted annotation naming another repository as the base makes the
// engine read there, never write there.
func TestPushesOnlyIntoTheImagesRepository(t *testing.T) {
	w := newWorld(t)
	w.base("victim", "v1", rebasetest.BaseSpec{})
	w.tag("victim:v1", "victim:stable")
	app := w.app("team/app", rebasetest.AppSpec{Base: "victim:stable"})
	w.base("victim", "v2", rebasetest.BaseSpec{})
	w.tag("victim:v2", "victim:stable")

	w.reg.Reset()
	res := newRebaser(rebase.WithTag(true)).Rebase(w.ctx, w.ref("team/app:latest"))
	if res.Action != rebase.Rebased {
		t.Fatalf("%s: %s", res.Action, res.Reason)
	}
	writes := w.reg.Writes()
	if len(writes) == 0 {
		t.Fatal("nothing written")
	}
	for _, q := range writes {
		if !strings.HasPrefix(q.Path, "/v2/team/app/") {
			t.Errorf("wrote outside team/app: %s", q)
		}
	}
	// --tag moved the input's tag to the result.
	if got := w.get(w.ref("team/app:latest")).Digest.String(); got != res.NewDigest {
		t.Errorf("team/app:latest = %s, want %s", got, res.NewDigest)
	}
	if !strings.HasPrefix(res.Output, w.ref("team/app:latest@sha256:")) {
		t.Errorf("output %q", res.Output)
	}
	_ = app
}

func TestDryRunComputesTheSameDigests(t *testing.T) {
	w := newWorld(t)
	w.base("base", "v1", rebasetest.BaseSpec{Docker: true})
	w.tag("base:v1", "base:stable")
	app := w.app("app", rebasetest.AppSpec{Base: "base:stable", Attestation: true})
	w.base("base", "v2", rebasetest.BaseSpec{Docker: true})
	w.tag("base:v2", "base:stable")

	w.reg.Reset()
	dry := newRebaser(rebase.WithDryRun(true)).Rebase(w.ctx, app)
	if dry.Action != rebase.Rebased || !dry.DryRun {
		t.Fatalf("dry run: %s (%s)", dry.Action, dry.Reason)
	}
	if wr := w.reg.Writes(); len(wr) > 0 {
		t.Errorf("dry run wrote %v", wr)
	}
	real := newRebaser().Rebase(w.ctx, app)
	if real.Output != dry.Output {
		t.Errorf("dry run said %s, real run pushed %s", dry.Output, real.Output)
	}
	if got := w.get(real.Output).Digest.String(); got != digestOf(dry.Output) {
		t.Errorf("registry holds %s for the output, dry run said %s", got, digestOf(dry.Output))
	}
}

// Images that have signatures are listed, not moved.
func TestReportsReferrers(t *testing.T) {
	w := newWorld(t)
	w.base("base", "v1", rebasetest.BaseSpec{})
	w.tag("base:v1", "base:stable")
	app := w.app("app", rebasetest.AppSpec{Base: "base:stable"})
	// A cosign-style signature tag on the old digest.
	sig := "sha256-" + strings.TrimPrefix(digestOf(app), "sha256:") + ".sig"
	child, _ := w.child(app, amd64)
	w.tag("app@"+digestOf(child), "app:"+sig)
	w.base("base", "v2", rebasetest.BaseSpec{})
	w.tag("base:v2", "base:stable")

	res := newRebaser().Rebase(w.ctx, app)
	if res.Action != rebase.Rebased {
		t.Fatalf("%s: %s", res.Action, res.Reason)
	}
	if len(res.Referrers) != 1 || !strings.HasSuffix(res.Referrers[0], ":"+sig) {
		t.Errorf("referrers %v, want the .sig tag", res.Referrers)
	}
	if !strings.Contains(strings.Join(res.Warnings, "\n"), "re-sign") {
		t.Errorf("warnings %q do not tell to re-sign", res.Warnings)
	}
	if got := w.get(w.ref("app:" + sig)).Digest.String(); got != digestOf(child) {
		t.Errorf("the signature tag moved")
	}
}

// --old-base/--new-base on a ko-built image, onto a base in another
// repository: every base annotation, the index's too, names the new base,
// so none points at a manifest that does not exist and a run without the
// flags finds the image up to date.
func TestOverrideAnnotatedImage(t *testing.T) {
	w := newWorld(t)
	w.base("base", "v1", rebasetest.BaseSpec{})
	w.tag("base:v1", "base:stable")
	app := w.app("app", rebasetest.AppSpec{Base: "base:stable"})
	other := w.base("other", "v2", rebasetest.BaseSpec{})

	res := newRebaser(rebase.WithOldBase(w.ref("base:v1")), rebase.WithNewBase(w.ref("other:v2"))).Rebase(w.ctx, app)
	if res.Action != rebase.Rebased {
		t.Fatalf("%s: %s", res.Action, res.Reason)
	}
	for _, p := range []v1.Platform{amd64, arm64} {
		baseChild, baseM := w.child(w.ref("other:v2"), p)
		_, m := w.child(res.Output, p)
		if got := digestsOf(m.Layers[:len(baseM.Layers)]); !slices.Equal(got, digestsOf(baseM.Layers)) {
			t.Errorf("%v: layers %v, want other:v2's %v first", p, got, digestsOf(baseM.Layers))
		}
		if n, d := m.Annotations[rebase.AnnotationBaseName], m.Annotations[rebase.AnnotationBaseDigest]; n != w.ref("other:v2") || d != digestOf(baseChild) {
			t.Errorf("%v: base.name %s, base.digest %s; want %s, %s", p, n, d, w.ref("other:v2"), digestOf(baseChild))
		}
	}
	a := w.index(res.Output).Annotations
	if n, d := a[rebase.AnnotationBaseName], a[rebase.AnnotationBaseDigest]; n != w.ref("other:v2") || d != other.String() {
		t.Errorf("index base.name %s, base.digest %s; want %s, %s", n, d, w.ref("other:v2"), other)
	}
	w.reg.Reset()
	if again := newRebaser().Rebase(w.ctx, res.Output); again.Action != rebase.UpToDate {
		t.Errorf("a run without the flags: %s (%s), want up to date", again.Action, again.Reason)
	}
	if wr := w.reg.Writes(); len(wr) > 0 {
		t.Errorf("the run without the flags wrote %v", wr)
	}
}

// An image whose layers do not start with the old base, and a new base
// with no layers at all (scratch): an error, not "up to date" (every image
// "starts with" zero layers).
func TestScratchNewBaseIsNotUpToDateByDefault(t *testing.T) {
	w := newWorld(t)
	w.base("base", "v1", rebasetest.BaseSpec{})
	w.base("wrong", "w1", rebasetest.BaseSpec{})
	w.base("scratch", "v2", rebasetest.BaseSpec{Layers: -1})
	app := w.app("app", rebasetest.AppSpec{Base: "base:v1", NoAnnotations: true})
	res := newRebaser(rebase.WithOldBase(w.ref("wrong:w1")), rebase.WithNewBase(w.ref("scratch:v2"))).Rebase(w.ctx, app)
	if res.Action != rebase.Failed || !strings.Contains(res.Reason, "layers do not start with the old base") {
		t.Errorf("%s (%s), want failed: layers do not start with the old base", res.Action, res.Reason)
	}
}

// armUnannotated pushes app's index (in repository app) again with its
// arm64 child, and the index itself, without base annotations, and returns
// the new index's reference and the arm64 child's digest.
func (w *world) armUnannotated(app string) (string, string) {
	t := w.t
	t.Helper()
	armRef, _ := w.child(app, arm64)
	raw := editJSON(t, w.get(armRef).Manifest, func(m map[string]any) { delete(m, "annotations") })
	armDigest := digestOf(w.putManifest("app", raw, types.OCIManifestSchema1))
	idx := editJSON(t, w.get(app).Manifest, func(m map[string]any) {
		delete(m, "annotations")
		for _, c := range m["manifests"].([]any) {
			c := c.(map[string]any)
			if p := c["platform"].(map[string]any); p["architecture"] == "arm64" {
				c["digest"], c["size"] = armDigest, len(raw)
			}
		}
	})
	return w.putManifest("app", idx, types.OCIImageIndex), armDigest
}

// --strict: a platform skipped inside an index fails the line, instead of
// leaving a half-rebased image behind with exit 0.
func TestStrictFailsOnASkippedPlatform(t *testing.T) {
	w := newWorld(t)
	w.base("base", "v1", rebasetest.BaseSpec{})
	w.tag("base:v1", "base:stable")
	app, _ := w.armUnannotated(w.app("app", rebasetest.AppSpec{Base: "base:stable"}))
	w.base("base", "v2", rebasetest.BaseSpec{})
	w.tag("base:v2", "base:stable")

	res := newRebaser(rebase.WithStrict(true)).Rebase(w.ctx, app)
	if res.Action != rebase.Failed || res.Output != app || !strings.Contains(res.Reason, "linux/arm64/v8: no base annotations") {
		t.Errorf("--strict: %s (%s) -> %s; want failed, the input echoed, the platform named", res.Action, res.Reason, res.Output)
	}
	// Without --strict the other platform is rebased and the skip is a warning.
	res = newRebaser().Rebase(w.ctx, app)
	if res.Action != rebase.Rebased || !slices.ContainsFunc(res.Warnings, func(s string) bool { return strings.Contains(s, "linux/arm64/v8 kept as it was") }) {
		t.Errorf("without --strict: %s (%s), warnings %q", res.Action, res.Reason, res.Warnings)
	}
}

// A registry that serves the OCI referrers API: each rebased image's
// referrers (an OCI 1.1 artifact whose subject is the old digest) are
// listed from it, for every image, not only the first one on the registry.
func TestReportsReferrersFromTheAPI(t *testing.T) {
	w := newWorld(t, registry.WithReferrersSupport(true))
	reg := w.reg
	w.base("base", "v1", rebasetest.BaseSpec{})
	w.tag("base:v1", "base:stable")
	var apps []string
	for _, n := range []string{"app1", "app2", "app3"} {
		apps = append(apps, w.app(n, rebasetest.AppSpec{Base: "base:stable", Name: n}))
	}
	// Signatures as OCI 1.1 referrers of app1 and app3.
	sigs := map[string]string{}
	for _, i := range []int{0, 2} {
		sigs[apps[i]] = w.sign(strings.TrimPrefix(strings.Split(apps[i], "@")[0], reg.Host+"/"), apps[i])
	}
	w.base("base", "v2", rebasetest.BaseSpec{})
	w.tag("base:v2", "base:stable")

	reg.Reset()
	sum, err := streamLines(newRebaser(rebase.WithJobs(3)), 3)(w.ctx, strings.NewReader(strings.Join(apps, "\n")), io.Discard, nil)
	if err != nil || sum.Rebased != len(apps) {
		t.Fatalf("%s %v", sum, err)
	}
	for _, res := range sum.Results {
		sig, signed := sigs[res.Input]
		switch {
		case signed && (len(res.Referrers) != 1 || !strings.Contains(res.Referrers[0], "@"+sig+" (")):
			t.Errorf("%s: referrers %q, want its signature %s", res.Input, res.Referrers, sig)
		case !signed && len(res.Referrers) != 0:
			t.Errorf("%s: referrers %q, want none", res.Input, res.Referrers)
		}
	}
	// Asked for the index and each platform manifest of each image.
	if n := reg.Counts()["GET referrers"]; n != 3*len(apps) {
		t.Errorf("%d referrers API requests, want 3 an image (its index and 2 platform manifests)", n)
	}
}

// An arm image whose config names no variant, built on an arm/v7 base: it
// moves to the new base's arm/v7 child, even when the new base also has
// arm/v6, and fails when the new base has only arm/v6 (never a rebase
// across variants).
func TestVariantlessImageKeepsItsBaseVariant(t *testing.T) {
	armv7 := v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}
	armv6 := v1.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}
	w := newWorld(t)
	w.base("base", "v1", rebasetest.BaseSpec{Platforms: []v1.Platform{armv7}})
	w.tag("base:v1", "base:stable")
	built := w.app("app", rebasetest.AppSpec{Base: "base:stable", Platforms: []v1.Platform{armv7}})
	m := w.manifest(built)
	cfg := editJSON(t, w.rawConfig(built, m), func(c map[string]any) { delete(c, "variant") })
	cd := w.putBlob("app", cfg)
	app := w.putManifest("app", editJSON(t, w.get(built).Manifest, func(mm map[string]any) {
		c := mm["config"].(map[string]any)
		c["digest"], c["size"] = cd.String(), len(cfg)
	}), m.MediaType)

	w.base("base", "v2", rebasetest.BaseSpec{Platforms: []v1.Platform{armv6, armv7}})
	w.tag("base:v2", "base:stable")
	res := newRebaser().Rebase(w.ctx, app)
	if res.Action != rebase.Rebased {
		t.Fatalf("%s (%s)", res.Action, res.Reason)
	}
	v7, _ := w.child(w.ref("base:v2"), armv7)
	if got := w.manifest(res.Output).Annotations[rebase.AnnotationBaseDigest]; got != digestOf(v7) {
		t.Errorf("base.digest %s, want base:v2's arm/v7 child %s", got, digestOf(v7))
	}
	if again := newRebaser().Rebase(w.ctx, res.Output); again.Action != rebase.UpToDate {
		t.Errorf("second run: %s (%s)", again.Action, again.Reason)
	}

	w.base("base", "v3", rebasetest.BaseSpec{Platforms: []v1.Platform{armv6}})
	w.tag("base:v3", "base:stable")
	res = newRebaser().Rebase(w.ctx, app)
	if res.Action != rebase.Failed || !strings.Contains(res.Reason, "platform linux/arm/v7 missing from new base") {
		t.Errorf("onto an arm/v6-only base: %s (%s), want failed: platform linux/arm/v7 missing", res.Action, res.Reason)
	}
}

// A referrers request that fails for one repository (403) says nothing
// about the registry: the next image on it is still asked, and its
// signature reported.
func TestReferrersErrorStaysWithItsImage(t *testing.T) {
	w := newWorld(t, registry.WithReferrersSupport(true))
	w.base("base", "v1", rebasetest.BaseSpec{})
	w.tag("base:v1", "base:stable")
	app1 := w.app("app1", rebasetest.AppSpec{Base: "base:stable", Name: "one"})
	app2 := w.app("app2", rebasetest.AppSpec{Base: "base:stable", Name: "two"})
	sig := w.sign("app2", app2)
	w.base("base", "v2", rebasetest.BaseSpec{})
	w.tag("base:v2", "base:stable")

	deny := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if strings.Contains(req.URL.Path, "/app1/referrers/") {
			return &http.Response{StatusCode: http.StatusForbidden, Header: http.Header{"Content-Type": {"application/json"}},
				Body: io.NopCloser(strings.NewReader(`{"errors":[{"code":"DENIED","message":"no"}]}`)), Request: req}, nil
		}
		return http.DefaultTransport.RoundTrip(req)
	})
	sum, err := streamLines(newRebaser(rebase.WithJobs(1), rebase.WithTransport(deny)), 1)(w.ctx, strings.NewReader(app1+"\n"+app2+"\n"), io.Discard, nil)
	if err != nil || sum.Rebased != 2 {
		t.Fatalf("%s %v", sum, err)
	}
	if r := sum.Results[1].Referrers; len(r) != 1 || !strings.Contains(r[0], "@"+sig+" (") {
		t.Errorf("app2 referrers %q, want its signature %s", r, sig)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// sign pushes an OCI 1.1 signature artifact whose subject is ref, into
// repo, and returns its digest.
func (w *world) sign(repo, ref string) string {
	w.t.Helper()
	subject := w.get(ref)
	empty := w.putBlob(repo, []byte("{}"))
	raw, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     types.OCIManifestSchema1,
		"artifactType":  "application/vnd.dev.cosign.artifact.sig.v1+json",
		"config":        map[string]any{"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty.String(), "size": 2},
		"layers":        []any{},
		"subject":       map[string]any{"mediaType": subject.MediaType, "digest": subject.Digest.String(), "size": subject.Size},
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return digestOf(w.putManifest(repo, raw, types.OCIManifestSchema1))
}
