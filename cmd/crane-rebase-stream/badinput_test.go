package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/rebasekit/rebasekit/internal/faultproxy"
	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// badWorld is a registry, behind a proxy that plays an access-controlled
// registry (401 on locked/ and lockedbase/, 403 on denied/, 403 on writes to
// readonly/), holding every kind of image that cannot be rebased.
type badWorld struct {
	t     *testing.T
	ctx   context.Context
	proxy *faultproxy.Proxy
}

func (b *badWorld) ref(s string) string { return b.proxy.Host + "/" + s }

func (b *badWorld) must(err error) {
	b.t.Helper()
	if err != nil {
		b.t.Fatal(err)
	}
}

func (b *badWorld) base(repo, version string, plats ...v1.Platform) {
	b.t.Helper()
	_, err := rebasetest.PushBase(b.ctx, b.ref(repo+":"+version), rebasetest.BaseSpec{Version: version, Platforms: plats})
	b.must(err)
	b.must(rebasetest.Tag(b.ctx, b.ref(repo+":"+version), b.ref(repo+":stable")))
}

func (b *badWorld) app(repo string, spec rebasetest.AppSpec) string {
	b.t.Helper()
	spec.Base = b.ref(spec.Base)
	d, err := rebasetest.PushApp(b.ctx, b.ref(repo+":v1"), spec)
	b.must(err)
	return b.ref(repo + "@" + d.String())
}

func (b *badWorld) del(ref string) {
	b.t.Helper()
	r, err := name.ParseReference(ref)
	b.must(err)
	b.must(remote.Delete(r, remote.WithContext(b.ctx)))
}

// children are the index's children, as repo@digest.
func (b *badWorld) children(ref string) []string {
	b.t.Helper()
	r, err := name.ParseReference(ref)
	b.must(err)
	idx, err := remote.Index(r, remote.WithContext(b.ctx))
	b.must(err)
	im, err := idx.IndexManifest()
	b.must(err)
	var out []string
	for _, m := range im.Manifests {
		out = append(out, r.Context().Digest(m.Digest.String()).String())
	}
	return out
}

func digestPart(ref string) string {
	_, d, _ := strings.Cut(ref, "@")
	return d
}

// Every kind of line that cannot be rebased: one line out per line in, the
// input echoed, and exactly this reason on stderr.
func TestBadInputMessages(t *testing.T) {
	p := proxiedRegistry(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b := &badWorld{t: t, ctx: ctx, proxy: p}
	H := p.Host
	amd64 := v1.Platform{OS: "linux", Architecture: "amd64"}
	arm64 := v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}

	for _, repo := range []string{"base", "gone", "nochild", "oldgone", "robase", "lockedbase"} {
		b.base(repo, "v1")
	}
	multi := b.app("apps/multi", rebasetest.AppSpec{Base: "base:stable"})
	plain := b.app("apps/plain", rebasetest.AppSpec{Base: "base:stable", NoAnnotations: true})
	single := b.app("apps/single", rebasetest.AppSpec{Base: "base:stable", Platforms: []v1.Platform{arm64}})
	gone := b.app("apps/gone", rebasetest.AppSpec{Base: "gone:stable"})
	nochild := b.app("apps/nochild", rebasetest.AppSpec{Base: "nochild:stable"})
	oldgone := b.app("apps/oldgone", rebasetest.AppSpec{Base: "oldgone:stable"})
	readonly := b.app("readonly/app", rebasetest.AppSpec{Base: "robase:stable"})
	lockedBase := b.app("apps/lockedbase", rebasetest.AppSpec{Base: "lockedbase:stable"})
	b.app("locked/app", rebasetest.AppSpec{Base: "base:stable"})
	b.app("denied/app", rebasetest.AppSpec{Base: "base:stable"})

	b.base("base", "v2", amd64) // the new base lacks arm64
	for _, repo := range []string{"nochild", "oldgone", "robase", "lockedbase"} {
		b.base(repo, "v2")
	}
	b.del(b.ref("gone:stable")) // the base is gone altogether
	b.del(b.ref("gone:v1"))
	missingChild := b.children(b.ref("nochild:v2"))[1] // the new base lost its arm64 manifest
	b.del(missingChild)
	oldBase := b.children(b.ref("oldgone:v1"))[0] // the base the app was built on is gone
	for _, c := range b.children(b.ref("oldgone:v1")) {
		b.del(c)
	}
	p.Set(faultproxy.Config{Answer: func(r *http.Request) int {
		write := r.Method != http.MethodGet && r.Method != http.MethodHead
		switch {
		case strings.HasPrefix(r.URL.Path, "/v2/locked/"), strings.HasPrefix(r.URL.Path, "/v2/lockedbase/"):
			return http.StatusUnauthorized
		case strings.HasPrefix(r.URL.Path, "/v2/denied/"), strings.HasPrefix(r.URL.Path, "/v2/readonly/") && write:
			return http.StatusForbidden
		}
		return 0
	}})

	const creds = "check the credentials for %H in the docker config (docker login, credential helpers, DOCKER_CONFIG)"
	cases := []struct{ in, stderr string }{
		{"", ""},
		{"   ", ""},
		{"# a comment", ""},
		{"garbage!", `line 4: "garbage!": error: not an image reference`},
		{"UPPER/Case:v1", `line 5: "UPPER/Case:v1": error: not an image reference`},
		{H + "/apps/multi@sha256:abc", `line 6: "%H/apps/multi@sha256:abc": error: not an image reference`},
		{H + "/apps/multi@sha256:" + strings.Repeat("0", 64), "%IN: error: image not found (404 Not Found: MANIFEST_UNKNOWN: Unknown manifest)"},
		{H + "/nothere:v1", "%IN: error: image not found (404 Not Found: NAME_UNKNOWN: Unknown name)"},
		{plain, "%IN: skipped: no base annotations (org.opencontainers.image.base.name): give --old-base and --new-base"},
		{multi, "%IN: error: linux/arm64/v8: platform linux/arm64/v8 missing from new base %H/base:stable"},
		{single, "%IN: error: platform linux/arm64/v8 missing from new base %H/base:stable"},
		{gone, "%IN: error: linux/amd64: new base %H/gone:stable not found (404 Not Found: MANIFEST_UNKNOWN: Unknown manifest)"},
		{nochild, "%IN: error: linux/arm64/v8: new base %H/nochild:stable lists a linux/arm64/v8 manifest " + digestPart(missingChild) + " that is not in the registry (404 Not Found: MANIFEST_UNKNOWN: Unknown manifest)"},
		{oldgone, "%IN: error: linux/amd64: old base " + oldBase + " not found (404 Not Found: MANIFEST_UNKNOWN: Unknown manifest)"},
		{H + "/locked/app:v1", "%IN: error: image: not authorized (401 Unauthorized: UNAUTHORIZED: authentication required): " + creds},
		{H + "/denied/app:v1", "%IN: error: image: access denied (403 Forbidden: DENIED: requested access to the resource is denied): " + creds},
		{lockedBase, "%IN: error: linux/amd64: new base %H/lockedbase:stable: not authorized (401 Unauthorized: UNAUTHORIZED: authentication required): " + creds},
		{readonly, "%IN: error: pushing to %H/readonly/app: access denied (403 Forbidden: DENIED: requested access to the resource is denied): " + creds},
		{strings.Repeat(H+"/apps/multi:v1", 6000), "line 19: error: line too long (over 65536 bytes): not an image reference; echoed"},
	}
	var in, want []string
	for _, c := range cases {
		in = append(in, c.in)
		if c.stderr != "" {
			want = append(want, "crane-rebase-stream: "+strings.NewReplacer("%IN", c.in, "%H", H).Replace(c.stderr))
		}
	}
	want = append(want, "crane-rebase-stream: rebased 0, up to date 0, skipped 1, failed 15")
	// One job: which platform of an index fails first is then fixed.
	code, out, errs := runCmd(t, strings.Join(in, "\n")+"\n", "-j", "1")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if out != strings.Join(in, "\n")+"\n" {
		t.Errorf("output is not the input echoed line for line:\n%s", out)
	}
	got := strings.Split(strings.TrimSuffix(errs, "\n"), "\n")
	for i := 0; i < max(len(got), len(want)); i++ {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Errorf("stderr line %d\n got %s\nwant %s", i+1, g, w)
		}
	}

	// Layers that do not start with the old base (here: --old-base names a
	// base the image was not built on).
	b.base("third", "v3")
	in1 := single + "\n"
	code, out, errs = runCmd(t, in1, "--old-base", H+"/third:v3", "--new-base", H+"/robase:v2")
	oldArm := b.children(b.ref("third:v3"))[1]
	wantErr := "crane-rebase-stream: " + single + ": error: layers do not start with the old base " + oldArm + " (2 layers)\n"
	if code != 1 || out != in1 || !strings.HasPrefix(errs, wantErr) {
		t.Errorf("layer mismatch: exit %d, output %q, stderr\n%s\nwant\n%s", code, out, errs, wantErr)
	}
}
