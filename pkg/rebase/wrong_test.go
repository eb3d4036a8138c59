package rebase_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/rebasekit/rebasekit/pkg/linestream"
	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// Shapes that once made the engine push a wrong image and report success.
// Each either rebases correctly (checked with rebasetest.Verify, and a
// second run is up to date) or fails its line with the reason.

func (w *world) pusher() rebasetest.Pusher {
	return rebasetest.Pusher{Ctx: w.ctx, Host: w.reg.Host}
}

// must is ref, failing the test on err (for the crafted pushes).
func (w *world) must(ref string, err error) string {
	w.t.Helper()
	if err != nil {
		w.t.Fatal(err)
	}
	return ref
}

// mustRebase rebases ref, fails the test unless it was rebased, and checks
// the result from the registry.
func (w *world) mustRebase(ref string, opts ...rebase.Option) rebase.Result {
	w.t.Helper()
	res := newRebaser(opts...).Rebase(w.ctx, ref)
	if res.Action != rebase.Rebased {
		w.t.Fatalf("%s: %s (%s)", ref, res.Action, res.Reason)
	}
	w.verify(res.Output)
	return res
}

func (w *world) verify(ref string) {
	w.t.Helper()
	if err := rebasetest.Verify(w.ctx, ref); err != nil {
		w.t.Errorf("%s is not a whole, consistent image: %v", ref, err)
	}
}

// wantFailed checks that res failed with a reason holding want, echoed, and
// that nothing was pushed.
func (w *world) wantFailed(res rebase.Result, want string) {
	w.t.Helper()
	if res.Action != rebase.Failed || !strings.Contains(res.Reason, want) || res.Output != res.Input {
		w.t.Errorf("%s: %s %q (%s), want failed, echoed: %s", res.Input, res.Action, res.Output, res.Reason, want)
	}
	for _, p := range res.Platforms {
		if p.Action == rebase.Rebased {
			w.t.Errorf("%s: a failed line reports %s as rebased", res.Input, p.Platform)
		}
	}
}

// 1. A Windows image whose config and descriptor name no os.version lands
// on the new base's child of its own build, and takes its os.version.
func TestWindowsImageKeepsItsBuild(t *testing.T) {
	w := newWorld(t)
	app := w.must(w.pusher().WindowsApp("win"))
	res := w.mustRebase(app)
	v2 := w.index(w.ref("win/base:v2"))
	var want string
	for _, d := range v2.Manifests {
		if d.Platform.OSVersion == rebasetest.WindowsLTSC2022+".2000" {
			want = d.Digest.String()
		}
	}
	if p := res.Platforms[0]; p.NewBase != want {
		t.Errorf("rebased onto %s, want the 2022 child %s", p.NewBase, want)
	}
	im := w.index(res.Output)
	if got := im.Manifests[0].Platform.OSVersion; got != rebasetest.WindowsLTSC2022+".2000" {
		t.Errorf("descriptor os.version %q, want the new base's", got)
	}
	m := w.manifest(w.ref("win/app@" + im.Manifests[0].Digest.String()))
	if got := w.config(res.Output, m).OSVersion; got != rebasetest.WindowsLTSC2022+".2000" {
		t.Errorf("config os.version %q, want the new base's", got)
	}
	if again := newRebaser().Rebase(w.ctx, res.Output); again.Action != rebase.UpToDate {
		t.Errorf("second run: %s (%s)", again.Action, again.Reason)
	}
}

// 1. Nothing tells which build the image is for: refused, naming both.
func TestWindowsAmbiguousBuildRefused(t *testing.T) {
	w := newWorld(t)
	app := w.must(w.pusher().WindowsAmbiguousApp("winamb"))
	res := newRebaser().Rebase(w.ctx, app)
	w.wantFailed(res, "platform windows/amd64 is ambiguous in new base "+w.ref("winamb/base:stable")+": 2 children fit and nothing tells them apart: sha256:")
	for _, v := range []string{"windows/amd64:" + rebasetest.WindowsLTSC2019 + ".2000", "windows/amd64:" + rebasetest.WindowsLTSC2022 + ".2000"} {
		if !strings.Contains(res.Reason, v) {
			t.Errorf("the reason does not name %s: %s", v, res.Reason)
		}
	}
}

// 2. A Docker image onto a zstd base: refused, naming the layer type. An
// OCI image onto the same kind of base is rebased, zstd layers and all.
func TestZstdBaseAndTheManifestFamily(t *testing.T) {
	w := newWorld(t)
	docker := w.must(w.pusher().ZstdApp("zd", true))
	oci := w.must(w.pusher().ZstdApp("zo", false))
	w.reg.Reset()
	w.wantFailed(newRebaser().Rebase(w.ctx, docker),
		"the new base's layer 0 has media type application/vnd.oci.image.layer.v1.tar+zstd, which a Docker manifest cannot carry and which has no equivalent there")
	if wr := w.reg.Writes(); len(wr) > 0 {
		t.Errorf("the refused image pushed %v", wr)
	}
	w.mustRebase(oci) // OCI onto zstd: rebased, zstd layers and all
}

// corrupt flips one byte of the body of the answers for which match holds,
// keeping the registry's Docker-Content-Digest: a proxy that mangles what
// it passes on.
type corrupt struct {
	inner http.RoundTripper
	match func(*http.Request) bool
}

func (c corrupt) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.inner.RoundTrip(req)
	if err != nil || !c.match(req) || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if i := bytes.Index(b, []byte(`"size":`)); i >= 0 {
		b[i+len(`"size":`)]++ // a digit: still JSON, another number
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

// 3. A base manifest served by tag with one byte changed: the line fails,
// nothing is pushed; the same by digest fails in go-containerregistry.
func TestCorruptManifestByTagRefused(t *testing.T) {
	w := newWorld(t)
	app := w.movedApp("app", rebasetest.AppSpec{Base: "base:stable"})
	w.reg.Reset()
	tr := corrupt{inner: http.DefaultTransport, match: func(r *http.Request) bool {
		return r.Method == http.MethodGet && r.URL.Path == "/v2/base/manifests/stable"
	}}
	res := newRebaser(rebase.WithTransport(tr)).Rebase(w.ctx, app)
	w.wantFailed(res, "new base "+w.ref("base:stable")+": the registry's answer for "+w.ref("base:stable")+" does not match its digest (Docker-Content-Digest sha256:")
	var mm *rebase.DigestMismatchError
	if !errors.As(res.Err, &mm) {
		t.Errorf("the error is not a DigestMismatchError: %#v", res.Err)
	}
	if wr := w.reg.Writes(); len(wr) > 0 {
		t.Errorf("pushed %v", wr)
	}
	// Without the corruption, the same run is a correct rebase.
	w.mustRebase(app)
}

// 4. --tag never rewinds a tag that has moved on to a newer image; it
// moves one that still names the image rebased, and is idempotent.
func TestTagNeverRewound(t *testing.T) {
	w := newWorld(t)
	w.base("base", "v1", rebasetest.BaseSpec{})
	w.tag("base:v1", "base:stable")
	old := w.app("app", rebasetest.AppSpec{Base: "base:stable", Name: "one"})
	w.tag("app@"+digestOf(old), "app:prod")
	w.tag("app@"+digestOf(old), "app:canary")
	newer := w.app("app", rebasetest.AppSpec{Base: "base:stable", Name: "two"})
	w.tag("app@"+digestOf(newer), "app:prod") // a new release since the YAML was written
	w.base("base", "v2", rebasetest.BaseSpec{})
	w.tag("base:v2", "base:stable")

	in := w.ref("app:prod@" + digestOf(old))
	res := newRebaser(rebase.WithTag(true)).Rebase(w.ctx, in)
	w.wantFailed(res, "did not move tag "+w.ref("app:prod")+": it now names "+digestOf(newer)+", not the image rebased ("+digestOf(old)+"); rebase what it names now")
	if got := w.get(w.ref("app:prod")).Digest.String(); got != digestOf(newer) {
		t.Errorf("app:prod names %s, want the newer release %s", got, digestOf(newer))
	}
	for _, p := range res.Platforms {
		if p.Action != rebase.Unreferenced {
			t.Errorf("%s: %s, want %s (its manifest was pushed, nothing refers to it)", p.Platform, p.Action, rebase.Unreferenced)
		}
	}

	in = w.ref("app:canary@" + digestOf(old))
	res = newRebaser(rebase.WithTag(true)).Rebase(w.ctx, in)
	if res.Action != rebase.Rebased || res.Tagged != w.ref("app:canary") {
		t.Fatalf("canary: %s %q (%s)", res.Action, res.Tagged, res.Reason)
	}
	if got := w.get(w.ref("app:canary")).Digest.String(); got != digestOf(res.Output) {
		t.Errorf("app:canary names %s, want %s", got, digestOf(res.Output))
	}
	// Again, from the same YAML: the tag already names the result.
	again := newRebaser(rebase.WithTag(true)).Rebase(w.ctx, in)
	if again.Action != rebase.Rebased || again.Output != res.Output {
		t.Errorf("again: %s %s (%s), want the same result", again.Action, again.Output, again.Reason)
	}
}

// 5. Base annotations only on the index descriptors (Docker Official
// Images): rebased, and the descriptors' copies name the new base.
func TestDescriptorAnnotations(t *testing.T) {
	w := newWorld(t)
	app := w.must(w.pusher().DescriptorAnnotatedApp("doi"))
	res := w.mustRebase(app)
	v2 := w.index(w.ref("doi/base:v2"))
	for i, d := range w.index(res.Output).Manifests {
		if got, want := d.Annotations[rebase.AnnotationBaseDigest], v2.Manifests[i].Digest.String(); got != want {
			t.Errorf("%s descriptor base.digest %s, want the new base's child %s", d.Platform.Architecture, got, want)
		}
		if d.Annotations["com.docker.official-images.bashbrew.arch"] == "" {
			t.Errorf("%s descriptor lost its other annotations: %v", d.Platform.Architecture, d.Annotations)
		}
	}
	if again := newRebaser().Rebase(w.ctx, res.Output); again.Action != rebase.UpToDate {
		t.Errorf("second run: %s (%s)", again.Action, again.Reason)
	}
}

// 6. The same moving tag as --old-base and --new-base: not "up to date"
// while the image is still on v1.
func TestSameMovingTagForBothBases(t *testing.T) {
	w := newWorld(t)
	app := w.must(w.pusher().UnannotatedApp("same"))
	stable := w.ref("same/base:stable")
	res := newRebaser(rebase.WithOldBase(stable), rebase.WithNewBase(stable)).Rebase(w.ctx, app)
	w.wantFailed(res, "layers do not start with the old base "+w.ref("same/base@"))
	if !strings.Contains(res.Reason, "which is also the new base: give the old base by digest") {
		t.Errorf("the reason does not say what to do: %s", res.Reason)
	}
	// Given right, it rebases.
	w.mustRebase(app, rebase.WithOldBase(w.ref("same/base:v1")), rebase.WithNewBase(stable))
}

// 6. Annotations alone never make a no-op: an image that says it is on the
// current base but whose layers are not is refused.
func TestAnnotationsAloneAreNotUpToDate(t *testing.T) {
	w := newWorld(t)
	app := w.movedApp("app", rebasetest.AppSpec{Base: "base:stable"})
	// Relabel the v1 image as built on v2, as a tool that edits annotations
	// and not layers would leave it.
	v2 := w.index(w.ref("base:v2"))
	im := w.index(app)
	var children []string
	for i, d := range im.Manifests {
		raw := w.get(w.ref("app@" + d.Digest.String())).Manifest
		raw = editJSON(t, raw, func(m map[string]any) {
			m["annotations"].(map[string]any)[rebase.AnnotationBaseDigest] = v2.Manifests[i].Digest.String()
		})
		children = append(children, w.putManifest("app", raw, d.MediaType))
	}
	raw := editJSON(t, w.get(app).Manifest, func(m map[string]any) {
		for i, c := range m["manifests"].([]any) {
			c := c.(map[string]any)
			d := w.get(children[i])
			c["digest"], c["size"] = d.Digest.String(), d.Size
		}
	})
	liar := w.putManifest("app", raw, im.MediaType)
	res := newRebaser().Rebase(w.ctx, liar)
	w.wantFailed(res, "layers do not start with the old base")
}

// 7. A failed line reports no platform as rebased: not pushed when the
// failure came first, pushed-unreferenced when the index PUT failed.
func TestFailedLineReportsNoRebasedPlatform(t *testing.T) {
	w := newWorld(t)
	app := w.movedApp("app", rebasetest.AppSpec{Base: "base:stable"})
	idx := w.index(app)
	refuseIndex := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.Method == http.MethodPut && strings.Contains(r.Header.Get("Content-Type"), "index") {
			return &http.Response{StatusCode: http.StatusForbidden, Status: "403 Forbidden", Header: http.Header{},
				Body: io.NopCloser(strings.NewReader(`{"errors":[{"code":"DENIED","message":"no index for you"}]}`)), Request: r}, nil
		}
		return http.DefaultTransport.RoundTrip(r)
	})
	res := newRebaser(rebase.WithTransport(refuseIndex)).Rebase(w.ctx, app)
	w.wantFailed(res, "DENIED")
	if len(res.Platforms) != len(idx.Manifests) {
		t.Fatalf("%d platforms in the report, want %d", len(res.Platforms), len(idx.Manifests))
	}
	for _, p := range res.Platforms {
		if p.Action != rebase.Unreferenced || p.NewDigest == "" {
			t.Errorf("%s: %s %s, want %s with its digest", p.Platform, p.Action, p.NewDigest, rebase.Unreferenced)
		}
	}
	// A dry run that fails (the new base lacks arm64): nothing pushed, and
	// the amd64 platform that would have been rebased says so.
	w.base("base", "v3", rebasetest.BaseSpec{Platforms: []v1.Platform{amd64}})
	w.tag("base:v3", "base:stable")
	res = newRebaser(rebase.WithJobs(1)).Rebase(w.ctx, app)
	w.wantFailed(res, "platform linux/arm64/v8 missing from new base")
	for _, p := range res.Platforms {
		if p.Platform == "linux/amd64" && p.Action != rebase.Unpushed {
			t.Errorf("%s: %s, want %s", p.Platform, p.Action, rebase.Unpushed)
		}
	}
}

// 8. Referrers of every platform manifest, by kind: "re-sign" only for
// signatures; an SBOM alone (ko attaches one to every image) draws no
// warning.
func TestReferrersByKind(t *testing.T) {
	w := newWorld(t)
	w.base("base", "v1", rebasetest.BaseSpec{})
	w.tag("base:v1", "base:stable")
	signed := w.app("signed", rebasetest.AppSpec{Base: "base:stable", Name: "signed"})
	sbom := w.app("sbom", rebasetest.AppSpec{Base: "base:stable", Name: "sbom"})
	tagFor := func(ref, suffix string) string {
		return "sha256-" + strings.TrimPrefix(digestOf(ref), "sha256:") + suffix
	}
	child, _ := w.child(signed, arm64)
	w.tag(repoOf(signed)+"@"+digestOf(child), repoOf(signed)+":"+tagFor(child, ".sig")) // on a platform manifest
	w.tag(repoOf(signed)+"@"+digestOf(child), repoOf(signed)+":"+tagFor(signed, ".att"))
	w.tag(repoOf(sbom)+"@"+digestOf(sbom), repoOf(sbom)+":"+tagFor(sbom, ".sbom"))
	w.base("base", "v2", rebasetest.BaseSpec{})
	w.tag("base:v2", "base:stable")

	r := newRebaser()
	res := r.Rebase(w.ctx, signed)
	if res.Action != rebase.Rebased {
		t.Fatalf("%s: %s", res.Action, res.Reason)
	}
	kinds := map[rebase.ReferrerKind]string{}
	for _, a := range res.Attached {
		kinds[a.Kind] = a.Of
	}
	if kinds[rebase.Signature] != digestOf(child) || kinds[rebase.Attestation] != digestOf(signed) {
		t.Errorf("attached %+v, want the arm64 manifest's signature and the index's attestation", res.Attached)
	}
	msg := strings.Join(res.Warnings, "\n")
	for _, want := range []string{"the old image has 1 signature(s), not moved: re-sign " + digestOf(res.Output),
		"the old image has 1 attestation(s), not moved (they describe the old digests): attest " + digestOf(res.Output) + " again"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	res = r.Rebase(w.ctx, sbom)
	if len(res.Attached) != 1 || res.Attached[0].Kind != rebase.SBOM {
		t.Errorf("attached %+v, want one SBOM", res.Attached)
	}
	if msg := strings.Join(res.Warnings, "\n"); msg != "" {
		t.Errorf("an SBOM drew %q", msg)
	}
}

// inflight counts the requests in flight to each host, and the most seen.
type inflight struct {
	mu       sync.Mutex
	now, max map[string]int
}

func (c *inflight) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.now[r.URL.Host]++
	c.max[r.URL.Host] = max(c.max[r.URL.Host], c.now[r.URL.Host])
	c.mu.Unlock()
	time.Sleep(2 * time.Millisecond) // let requests overlap
	defer func() {
		c.mu.Lock()
		c.now[r.URL.Host]--
		c.mu.Unlock()
	}()
	return http.DefaultTransport.RoundTrip(r)
}

// 9. At most --max-requests requests in flight to one host, whatever --jobs.
func TestMaxRequestsPerHost(t *testing.T) {
	w := newWorld(t)
	w.base("base", "v1", rebasetest.BaseSpec{})
	w.tag("base:v1", "base:stable")
	var apps []string
	for i := range 6 {
		apps = append(apps, w.app(fmt.Sprint("app", i), rebasetest.AppSpec{Base: "base:stable", Name: fmt.Sprint("app", i)}))
	}
	w.base("base", "v2", rebasetest.BaseSpec{})
	w.tag("base:v2", "base:stable")
	run := func(opts ...rebase.Option) int {
		c := &inflight{now: map[string]int{}, max: map[string]int{}}
		sum, err := streamLines(newRebaser(append(opts, rebase.WithTransport(c), rebase.WithDryRun(true), rebase.WithJobs(8))...), 8)(
			w.ctx, strings.NewReader(strings.Join(apps, "\n")), io.Discard, nil)
		if err != nil || sum.Rebased != len(apps) {
			t.Fatalf("%s %v", sum, err)
		}
		return c.max[w.reg.Host]
	}
	if got := run(rebase.WithMaxRequests(2)); got > 2 {
		t.Errorf("with at most 2: %d requests in flight at once", got)
	}
	// The bound is what holds it: without one, the same run has more.
	if got := run(rebase.WithMaxRequests(0)); got <= 2 {
		t.Errorf("without a bound: at most %d in flight, want more than 2 (else this test shows nothing)", got)
	}
}

// 12. A caller's remote options cannot replace the engine's transport (and
// its plain-HTTP guard, digest check and request bound) or nest retries.
func TestRemoteOptionsDoNotOverrideTheEngine(t *testing.T) {
	w := newWorld(t)
	w.base("base", "v1", rebasetest.BaseSpec{})
	w.tag("base:v1", "base:stable")
	// One platform: one lookup of the base, so the tries are counted exactly.
	app := w.app("app", rebasetest.AppSpec{Base: "base:stable", Platforms: []v1.Platform{amd64}})
	var theirs int
	their := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		theirs++
		return http.DefaultTransport.RoundTrip(r)
	})
	busy := 0
	ours := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Path == "/v2/base/manifests/stable" {
			busy++
			return &http.Response{StatusCode: http.StatusServiceUnavailable, Status: "503", Header: http.Header{}, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
		}
		return http.DefaultTransport.RoundTrip(r)
	})
	res := newRebaser(rebase.WithTransport(ours), rebase.WithRemoteOptions(
		remote.WithTransport(their),
		remote.WithRetryPredicate(func(error) bool { return true }),
		remote.WithRetryBackoff(remote.Backoff{Duration: 1, Factor: 1, Steps: 5}),
	)).Rebase(w.ctx, app)
	if theirs != 0 {
		t.Errorf("the caller's transport carried %d requests", theirs)
	}
	// The engine's retries alone: 2 tries (newRebaser's backoff), not 2x5.
	if res.Action != rebase.Failed || busy != 2 {
		t.Errorf("%s (%s) after %d tries of the busy manifest, want failed after 2", res.Action, res.Reason, busy)
	}
}

// 10. A panic in a memoised computation fails the image, not the run, and
// the lines that wait on it get their answer.
func TestPanicFailsTheLine(t *testing.T) {
	w := newWorld(t)
	w.base("base", "v1", rebasetest.BaseSpec{})
	w.tag("base:v1", "base:stable")
	app := w.app("app", rebasetest.AppSpec{Base: "base:stable"})
	app2 := w.app("app2", rebasetest.AppSpec{Base: "base:stable", Name: "app2"})
	w.base("base", "v2", rebasetest.BaseSpec{})
	w.tag("base:v2", "base:stable")
	boom := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Path == "/v2/base/manifests/stable" {
			panic("boom")
		}
		return http.DefaultTransport.RoundTrip(r)
	})
	var out bytes.Buffer
	in := app + "\n" + app2 + "\n"
	sum, err := streamLines(newRebaser(rebase.WithTransport(boom)), 8)(context.Background(), strings.NewReader(in), &out, nil)
	if err != nil || sum.Failed != 2 || out.String() != in {
		t.Fatalf("%s %v, output %q", sum, err, out.String())
	}
	for _, res := range sum.Results {
		if !strings.Contains(res.Reason, "internal error (a bug: please report it): panic: boom") {
			t.Errorf("%s: reason %q", res.Input, res.Reason)
		}
	}
}

// 11. A line over 64 KiB is echoed, byte for byte, answered with "line too
// long", and the stream stays aligned.
func TestLongLineEchoed(t *testing.T) {
	long := strings.Repeat("x", 3*linestream.MaxLine+17)
	in := "# a\n" + long + "\r\n" + "not a ref!\n" + strings.Repeat("y", linestream.MaxLine+1) + "\n" + long
	var out bytes.Buffer
	sum, err := streamLines(newRebaser(), 8)(context.Background(), strings.NewReader(in), &out, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := in + "\n"; out.String() != want {
		t.Errorf("output is not the input echoed line for line (%d bytes, want %d)", out.Len(), len(want))
	}
	if sum.Failed != 4 {
		t.Fatalf("%s, want 4 failed", sum)
	}
	for _, i := range []int{0, 2, 3} {
		r := sum.Results[i]
		if !errors.Is(r.Err, linestream.ErrLineTooLong) || r.Reason != "line too long (over 65536 bytes): not an image reference; echoed" || len(r.Input) > 300 {
			t.Errorf("result %d: %q (%d bytes of input kept)", i, r.Reason, len(r.Input))
		}
	}
}
