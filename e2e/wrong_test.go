package e2e

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/rebasekit/rebasekit/internal/faultproxy"
	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// The shapes that once made crane-rebase-stream push a wrong image and
// report success (issue 8), on the real docker-registry, through the real
// binary: every line gets either a correct result, verified from the
// registry (every blob digested, diff_ids, one media-type family, base
// annotations naming the base really used), or its echo with the reason;
// a second run changes nothing.
func TestWrongShapesOnTheRealRegistry(t *testing.T) {
	need(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// A registry of its own: docker-registry refuses manifests with foreign
	// layers (Windows bases) unless their URLs are allowed, as a registry
	// that serves Windows images is configured.
	reg, err := startRegistryWithConfig(ctx, filepath.Join(t.TempDir(), "registry"),
		"validation:\n  manifests:\n    urls:\n      allow:\n        - ^https://mcr\\.microsoft\\.com/\n")
	if err != nil {
		t.Fatal(err)
	}
	defer reg.stop()
	p := rebasetest.Pusher{Ctx: ctx, Host: reg.Host}
	must := func(ref string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return ref
	}
	win := must(p.WindowsApp("wrong/win"))
	winAmb := must(p.WindowsAmbiguousApp("wrong/winamb"))
	zd := must(p.ZstdApp("wrong/zd", true))
	zo := must(p.ZstdApp("wrong/zo", false))
	doi := must(p.DescriptorAnnotatedApp("wrong/doi"))

	in := strings.Join([]string{win, winAmb, zd, zo, doi}, "\n") + "\n"
	code, out, errs := runStream(t, t.TempDir(), in, "-j", "2")
	if code != 1 {
		t.Errorf("exit %d, want 1 (two lines are refused); stderr:\n%s", code, errs)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d lines out for 5 in:\n%s", len(lines), out)
	}
	for i, ref := range []string{win, zo, doi} {
		got := lines[[]int{0, 3, 4}[i]]
		if got == ref || !strings.HasPrefix(got, strings.Split(ref, "@")[0]+"@sha256:") {
			t.Errorf("%s: output %q, want it rebased", ref, got)
			continue
		}
		if err := rebasetest.Verify(ctx, got); err != nil {
			t.Errorf("%s: %v", got, err)
		}
	}
	for i, c := range []struct{ ref, reason string }{
		{winAmb, "platform windows/amd64 is ambiguous in new base " + p.Ref("wrong/winamb/base:stable") + ": 2 children fit and nothing tells them apart"},
		{zd, "the new base's layer 0 has media type application/vnd.oci.image.layer.v1.tar+zstd, which a Docker manifest cannot carry"},
	} {
		if got := lines[[]int{1, 2}[i]]; got != c.ref {
			t.Errorf("%s: output %q, want the input echoed", c.ref, got)
		}
		if !strings.Contains(errs, c.ref+": error: ") || !strings.Contains(errs, c.reason) {
			t.Errorf("stderr does not say %q for %s:\n%s", c.reason, c.ref, errs)
		}
	}
	// The Windows image moved to its own build's new patch level.
	if got := manifestOSVersion(t, ctx, lines[0]); got != rebasetest.WindowsLTSC2022+".2000" {
		t.Errorf("windows image: os.version %q, want %s.2000", got, rebasetest.WindowsLTSC2022)
	}
	// A second run: the rebased lines are up to date, the refused still refused.
	code, again, errs := runStream(t, t.TempDir(), out)
	if code != 1 || again != out || !strings.Contains(errs, "rebased 0, up to date 3, skipped 0, failed 2") {
		t.Errorf("second run: exit %d, output changed %v; stderr:\n%s", code, again != out, errs)
	}
}

func manifestOSVersion(t *testing.T, ctx context.Context, ref string) string {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(r, remote.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if im.Manifests[0].Platform.OSVersion != cf.OSVersion {
		t.Errorf("descriptor os.version %q, config %q", im.Manifests[0].Platform.OSVersion, cf.OSVersion)
	}
	return cf.OSVersion
}

// --tag on the real registry: a tag that moved on to a newer image is never
// rewound; one that still names the image rebased is moved.
func TestTagNotRewoundOnTheRealRegistry(t *testing.T) {
	need(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := rebasetest.Pusher{Ctx: ctx, Host: suite.host}
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := rebasetest.PushBase(ctx, p.Ref("tagged/base:v1"), rebasetest.BaseSpec{Version: "v1"})
	check(err)
	check(p.Tag("tagged/base:v1", "tagged/base:stable"))
	old, err := rebasetest.PushApp(ctx, p.Ref("tagged/app:prod"), rebasetest.AppSpec{Base: p.Ref("tagged/base:stable"), Name: "one"})
	check(err)
	check(p.Tag("tagged/app:prod", "tagged/app:canary"))
	newer, err := rebasetest.PushApp(ctx, p.Ref("tagged/app:prod"), rebasetest.AppSpec{Base: p.Ref("tagged/base:stable"), Name: "two"})
	check(err)
	_, err = rebasetest.PushBase(ctx, p.Ref("tagged/base:v2"), rebasetest.BaseSpec{Version: "v2"})
	check(err)
	check(p.Tag("tagged/base:v2", "tagged/base:stable"))

	prod := p.Ref("tagged/app:prod@" + old.String())
	canary := p.Ref("tagged/app:canary@" + old.String())
	code, out, errs := runStream(t, t.TempDir(), prod+"\n"+canary+"\n", "--tag", "-j", "1")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if code != 1 || len(lines) != 2 || lines[0] != prod {
		t.Fatalf("exit %d, output %q; stderr:\n%s", code, out, errs)
	}
	want := "did not move tag " + p.Ref("tagged/app:prod") + ": it now names " + newer.String() + ", not the image rebased (" + old.String() + "); rebase what it names now"
	if !strings.Contains(errs, prod+": error: pushed sha256:") || !strings.Contains(errs, want) {
		t.Errorf("stderr does not say %q:\n%s", want, errs)
	}
	if got := tagDigest(t, ctx, p.Ref("tagged/app:prod")); got != newer.String() {
		t.Errorf("prod names %s, want the newer release %s", got, newer)
	}
	if got, want := tagDigest(t, ctx, p.Ref("tagged/app:canary")), strings.Split(lines[1], "@")[1]; got != want {
		t.Errorf("canary names %s, want the rebased %s", got, want)
	}
	if err := rebasetest.Verify(ctx, lines[1]); err != nil {
		t.Error(err)
	}
}

func tagDigest(t *testing.T, ctx context.Context, ref string) string {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	d, err := remote.Head(r, remote.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	return d.Digest.String()
}

// --old-base and --new-base given the same moving tag: refused, not "up to
// date", while the image is still on the old base.
func TestSameMovingTagOnTheRealRegistry(t *testing.T) {
	need(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := rebasetest.Pusher{Ctx: ctx, Host: suite.host}
	app, err := p.UnannotatedApp("sametag")
	if err != nil {
		t.Fatal(err)
	}
	stable := p.Ref("sametag/base:stable")
	code, out, errs := runStream(t, t.TempDir(), app+"\n", "--old-base", stable, "--new-base", stable)
	if code != 1 || out != app+"\n" || !strings.Contains(errs, "which is also the new base: give the old base by digest") || strings.Contains(errs, "up to date 1") {
		t.Errorf("exit %d, output %q; stderr:\n%s", code, out, errs)
	}
}

// A proxy in front of the real registry that changes one byte of the base
// manifest it serves by tag: the line fails and nothing is pushed.
func TestCorruptTagAnswerOnTheRealRegistry(t *testing.T) {
	need(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	px, err := faultproxy.New(suite.host, faultproxy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	p := rebasetest.Pusher{Ctx: ctx, Host: px.Host}
	_, err = rebasetest.PushBase(ctx, p.Ref("corrupt/base:v1"), rebasetest.BaseSpec{Version: "v1"})
	if err == nil {
		err = p.Tag("corrupt/base:v1", "corrupt/base:stable")
	}
	if err != nil {
		t.Fatal(err)
	}
	d, err := rebasetest.PushApp(ctx, p.Ref("corrupt/app:v1"), rebasetest.AppSpec{Base: p.Ref("corrupt/base:stable")})
	if err != nil {
		t.Fatal(err)
	}
	app := p.Ref("corrupt/app@" + d.String())
	if _, err = rebasetest.PushBase(ctx, p.Ref("corrupt/base:v2"), rebasetest.BaseSpec{Version: "v2"}); err == nil {
		err = p.Tag("corrupt/base:v2", "corrupt/base:stable")
	}
	if err != nil {
		t.Fatal(err)
	}
	px.Set(faultproxy.Config{Corrupt: func(r *http.Request) bool {
		return r.Method == http.MethodGet && r.URL.Path == "/v2/corrupt/base/manifests/stable"
	}})
	before, err := suite.reg.apiState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs := runStream(t, t.TempDir(), app+"\n")
	want := "the registry's answer for " + p.Ref("corrupt/base:stable") + " does not match its digest (Docker-Content-Digest sha256:"
	if code != 1 || out != app+"\n" || !strings.Contains(errs, app+": error: ") || !strings.Contains(errs, want) {
		t.Errorf("exit %d, output %q; stderr:\n%s\nwant %q", code, out, errs, want)
	}
	if px.Stats().Corrupted == 0 {
		t.Error("the proxy corrupted nothing: the test shows nothing")
	}
	after, err := suite.reg.apiState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := snapshotDiff(before, after); d != "" {
		t.Errorf("the refused line changed the registry:\n%s", d)
	}
	// Untouched answers: a correct rebase.
	px.Set(faultproxy.Config{})
	code, out, errs = runStream(t, t.TempDir(), app+"\n")
	if code != 0 || out == app+"\n" {
		t.Fatalf("without the corruption: exit %d, output %q; stderr:\n%s", code, out, errs)
	}
	if err := rebasetest.Verify(ctx, strings.TrimSpace(out)); err != nil {
		t.Error(err)
	}
}

// The base's registry redirects its manifest by tag to another host (as
// registry.k8s.io does for all of its API), which changes one byte: both an
// image on the same registry and one on another are refused with the
// digest check, and nothing is pushed. The same redirects with the bytes
// untouched: both rebased, verified, and a second run changes nothing.
func TestRedirectedTagAnswerOnTheRealRegistry(t *testing.T) {
	need(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cdn, err := faultproxy.New(suite.host, faultproxy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer cdn.Close()
	front, err := faultproxy.New(suite.host, faultproxy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer front.Close()
	areg, err := startRegistry(ctx, filepath.Join(t.TempDir(), "registry"))
	if err != nil {
		t.Fatal(err)
	}
	defer areg.stop()
	p := rebasetest.Pusher{Ctx: ctx, Host: front.Host}
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err = rebasetest.PushBase(ctx, p.Ref("redir/base:v1"), rebasetest.BaseSpec{Version: "v1"})
	check(err)
	check(p.Tag("redir/base:v1", "redir/base:stable"))
	d, err := rebasetest.PushApp(ctx, p.Ref("redir/app:v1"), rebasetest.AppSpec{Base: p.Ref("redir/base:stable")})
	check(err)
	app := p.Ref("redir/app@" + d.String())
	d, err = rebasetest.PushApp(ctx, areg.Host+"/redir/app:v1", rebasetest.AppSpec{Base: p.Ref("redir/base:stable"), Name: "cross"})
	check(err)
	cross := areg.Host + "/redir/app@" + d.String()
	_, err = rebasetest.PushBase(ctx, p.Ref("redir/base:v2"), rebasetest.BaseSpec{Version: "v2"})
	check(err)
	check(p.Tag("redir/base:v2", "redir/base:stable"))

	_, cdnPort, _ := strings.Cut(cdn.Host, ":")
	// The manifest by tag, as asked of the registry (front) and of the CDN.
	byTag := func(r *http.Request) bool {
		return r.Method == http.MethodGet && strings.TrimPrefix(r.URL.Path, faultproxy.CDNPrefix) == "/v2/redir/base/manifests/stable"
	}
	front.Set(faultproxy.Config{Redirect: func(r *http.Request) string {
		if byTag(r) {
			return "localhost:" + cdnPort
		}
		return ""
	}})
	cdn.Set(faultproxy.Config{Corrupt: byTag})
	var before []map[string]string
	for _, r := range []*registry{suite.reg, areg} {
		s, err := r.apiState(ctx)
		check(err)
		before = append(before, s)
	}
	in := app + "\n" + cross + "\n"
	code, out, errs := runStream(t, t.TempDir(), in, "-j", "1")
	want := "new base " + p.Ref("redir/base:stable") + ": the registry's answer for " + p.Ref("redir/base:stable") + " does not match its digest (Docker-Content-Digest sha256:"
	if code != 1 || out != in || !strings.Contains(errs, app+": error: linux/amd64: "+want) || !strings.Contains(errs, cross+": error: linux/amd64: "+want) {
		t.Errorf("exit %d, output %q; stderr:\n%s\nwant both lines echoed, refused with %q", code, out, errs, want)
	}
	if front.Stats().Redirected == 0 || cdn.Stats().Corrupted == 0 {
		t.Errorf("redirected %d, corrupted %d: the test shows nothing", front.Stats().Redirected, cdn.Stats().Corrupted)
	}
	for i, r := range []*registry{suite.reg, areg} {
		after, err := r.apiState(ctx)
		check(err)
		if d := snapshotDiff(before[i], after); d != "" {
			t.Errorf("the refused lines changed the registry:\n%s", d)
		}
	}

	// The CDN drops the registry's Docker-Content-Digest too, so no answer
	// on the way names a digest: the registry is asked whether it has the
	// bytes' digest, and it does not. Both refused, nothing pushed.
	cdn.Set(faultproxy.Config{Corrupt: byTag, NoDigest: byTag})
	code, out, errs = runStream(t, t.TempDir(), in, "-j", "1")
	want = "new base " + p.Ref("redir/base:stable") + ": the registry's answer for " + p.Ref("redir/base:stable") + " came through a redirect that named no digest, and the registry has no manifest with the digest of the bytes received (sha256:"
	if code != 1 || out != in || !strings.Contains(errs, app+": error: linux/amd64: "+want) || !strings.Contains(errs, cross+": error: linux/amd64: "+want) {
		t.Errorf("no digest named: exit %d, output %q; stderr:\n%s\nwant both lines echoed, refused with %q", code, out, errs, want)
	}
	for i, r := range []*registry{suite.reg, areg} {
		after, err := r.apiState(ctx)
		check(err)
		if d := snapshotDiff(before[i], after); d != "" {
			t.Errorf("the refused lines changed the registry:\n%s", d)
		}
	}

	// Redirected, untouched, the digest named nowhere: confirmed by the
	// registry, both rebased.
	cdn.Set(faultproxy.Config{NoDigest: byTag})
	code, out, errs = runStream(t, t.TempDir(), in, "-j", "1", "--dry-run")
	if code != 0 || strings.Count(out, "@sha256:") != 2 || out == in {
		t.Errorf("redirected, untouched, no digest named: exit %d, output %q; stderr:\n%s", code, out, errs)
	}

	// Redirected, untouched: rebased.
	cdn.Set(faultproxy.Config{})
	code, out, errs = runStream(t, t.TempDir(), in, "-j", "1")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if code != 0 || len(lines) != 2 || lines[0] == app || lines[1] == cross {
		t.Fatalf("redirected, untouched: exit %d, output %q; stderr:\n%s", code, out, errs)
	}
	for _, l := range lines {
		if err := rebasetest.Verify(ctx, l); err != nil {
			t.Errorf("%s: %v", l, err)
		}
	}
	code, again, errs := runStream(t, t.TempDir(), out)
	if code != 0 || again != out || !strings.Contains(errs, "up to date 2,") {
		t.Errorf("second run: exit %d, output %q; stderr:\n%s", code, again, errs)
	}
}

// The second round's shapes (issue 16) on the real registry, through the
// real binary: descriptors that embed their content are rebased without
// the old bytes; one whose embedded data is not its content is refused,
// naming it; an index child without a platform is rebased from its
// config's, the attestation beside it dropped.
func TestRound2ShapesOnTheRealRegistry(t *testing.T) {
	need(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := rebasetest.Pusher{Ctx: ctx, Host: suite.host}
	must := func(ref string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return ref
	}
	emb := must(p.EmbeddedDataApp("round2/emb"))
	bad := must(p.BadDataApp("round2/bad"))
	nop := must(p.PlatformlessApp("round2/nop"))

	in := emb + "\n" + bad + "\n" + nop + "\n"
	code, out, errs := runStream(t, t.TempDir(), in, "-j", "1")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if code != 1 || len(lines) != 3 {
		t.Fatalf("exit %d, %d lines, want 1 and 3; output %q; stderr:\n%s", code, len(lines), out, errs)
	}
	for i, ref := range []string{emb, nop} {
		got := lines[[]int{0, 2}[i]]
		if got == ref || !strings.HasPrefix(got, strings.Split(ref, "@")[0]+"@sha256:") {
			t.Errorf("%s: output %q, want it rebased", ref, got)
			continue
		}
		if err := rebasetest.Verify(ctx, got); err != nil {
			t.Errorf("%s: %v", got, err)
		}
	}
	if lines[1] != bad {
		t.Errorf("%s: output %q, want the input echoed", bad, lines[1])
	}
	if want := ": the manifest's config embeds data ("; !strings.Contains(errs, bad+": error: linux/amd64 manifest sha256:") || !strings.Contains(errs, want) ||
		!strings.Contains(errs, "that is not its content (") {
		t.Errorf("stderr does not refuse %s for its config's data:\n%s", bad, errs)
	}
	// The platformless child is in the result, rebased as arm64; the
	// attestation is not.
	r, err := name.ParseReference(lines[2])
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(r, remote.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var arch []string
	for _, d := range im.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		arch = append(arch, cf.Architecture)
	}
	if strings.Join(arch, " ") != "amd64 arm64" {
		t.Errorf("the rebased index holds %v, want amd64 and arm64 (the platformless child kept, the attestation dropped)", arch)
	}
	// Embedded data: none left stale (Verify checked), and crane's reading
	// of the config works (go-containerregistry verifies embedded data).
	r, err = name.ParseReference(lines[0])
	if err != nil {
		t.Fatal(err)
	}
	if idx, err = remote.Index(r, remote.WithContext(ctx)); err == nil {
		im, err = idx.IndexManifest()
		for _, d := range im.Manifests {
			img, err := idx.Image(d.Digest)
			if err == nil {
				_, err = img.ConfigFile()
			}
			if err != nil {
				t.Errorf("%s child %s: %v", lines[0], d.Digest, err)
			}
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	code, again, errs := runStream(t, t.TempDir(), out)
	if code != 1 || again != out || !strings.Contains(errs, "rebased 0, up to date 2, skipped 0, failed 1") {
		t.Errorf("second run: exit %d, output changed %v; stderr:\n%s", code, again != out, errs)
	}
}
