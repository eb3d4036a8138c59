package rebase_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// The second round of shapes that made the engine push a wrong image and
// report success, or miss a case (issue 16).

// 7. Host names are case-insensitive: LOCALHOST:PORT is loopback, answered
// in plain HTTP as localhost:PORT is, and the output is spelled like the
// input.
func TestUppercaseLocalhostIsLoopback(t *testing.T) {
	w := newWorld(t)
	app := w.movedApp("app", rebasetest.AppSpec{Base: "base:stable"})
	_, port, _ := strings.Cut(w.reg.Host, ":")
	in := strings.Replace(app, w.reg.Host, "LOCALHOST:"+port, 1)
	res := newRebaser().Rebase(w.ctx, in)
	if res.Action != rebase.Rebased {
		t.Fatalf("%s: %s (%s)", in, res.Action, res.Reason)
	}
	if !strings.HasPrefix(res.Output, "LOCALHOST:"+port+"/app@sha256:") {
		t.Errorf("output %q is not spelled like the input %q", res.Output, in)
	}
	w.verify(strings.Replace(res.Output, "LOCALHOST:"+port, w.reg.Host, 1))
}

// cdnHost is where redirector sends what it redirects: a loopback name that
// is never dialled (redirector answers it itself).
const cdnHost = "cdn.localhost:1"

// redirector answers the requests to origin that match picks with a 307 to
// cdnHost, which redirects hops-1 more times and then answers with the
// registry's answer, one byte changed when corrupt (the first digit after
// "size":, else the last byte). Docker-Content-Digest, when the registry
// sends one, is on the first answer (the redirect) when onFirst, on the
// final one when onFinal: registry.k8s.io puts it on the final answer only.
type redirector struct {
	origin           string
	match            func(*http.Request) bool
	hops             int
	corrupt          bool
	onFirst, onFinal bool
	served           atomic.Int32 // final answers
}

func (c *redirector) RoundTrip(req *http.Request) (*http.Response, error) {
	switch {
	case req.URL.Host == c.origin && c.match(req):
		h := http.Header{"Location": {"http://" + cdnHost + "/hop1" + req.URL.Path}}
		if c.onFirst {
			head, err := c.fromOrigin(req, http.MethodHead)
			if err != nil {
				return nil, err
			}
			head.Body.Close()
			h.Set("Docker-Content-Digest", head.Header.Get("Docker-Content-Digest"))
		}
		return &http.Response{StatusCode: http.StatusTemporaryRedirect, Status: "307 Temporary Redirect", Header: h, Body: http.NoBody, Request: req}, nil
	case req.URL.Host == cdnHost:
		var n int
		var rest string
		if _, err := fmt.Sscanf(req.URL.Path, "/hop%d", &n); err != nil {
			return nil, err
		}
		rest = strings.TrimPrefix(req.URL.Path, fmt.Sprintf("/hop%d", n))
		if n < c.hops {
			h := http.Header{"Location": {fmt.Sprintf("/hop%d%s", n+1, rest)}}
			return &http.Response{StatusCode: http.StatusTemporaryRedirect, Status: "307 Temporary Redirect", Header: h, Body: http.NoBody, Request: req}, nil
		}
		r := req.Clone(req.Context())
		r.URL.Path = rest
		resp, err := c.fromOrigin(r, req.Method)
		if err != nil || resp.StatusCode != http.StatusOK {
			return resp, err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if c.corrupt {
			if i := bytes.Index(b, []byte(`"size":`)) + len(`"size":`); i >= len(`"size":`) && b[i] >= '0' && b[i] < '9' {
				b[i]++
			} else {
				b[len(b)-1]++
			}
		}
		if !c.onFinal {
			resp.Header.Del("Docker-Content-Digest")
		}
		c.served.Add(1)
		resp.Body, resp.Request = io.NopCloser(bytes.NewReader(b)), req
		return resp, nil
	}
	return http.DefaultTransport.RoundTrip(req)
}

// fromOrigin asks the registry what req asks the CDN.
func (c *redirector) fromOrigin(req *http.Request, method string) (*http.Response, error) {
	r, err := http.NewRequestWithContext(req.Context(), method, "http://"+c.origin+req.URL.Path, nil)
	if err != nil {
		return nil, err
	}
	r.Header.Set("Accept", req.Header.Get("Accept"))
	return http.DefaultTransport.RoundTrip(r)
}

// 1. A base manifest by tag whose registry redirects to another host that
// changes one byte: refused, whether the digest is announced on the
// redirect, on the final answer or on both, after one redirect or three;
// nothing is pushed. Through the same redirects unchanged, a correct rebase.
func TestRedirectedManifestChecked(t *testing.T) {
	w := newWorld(t)
	app := w.movedApp("app", rebasetest.AppSpec{Base: "base:stable"})
	byTag := func(r *http.Request) bool { return r.URL.Path == "/v2/base/manifests/stable" }
	for _, c := range []*redirector{
		{hops: 1, onFinal: true},
		{hops: 1, onFirst: true},
		{hops: 3, onFirst: true, onFinal: true},
		{hops: 2}, // no header anywhere: the registry is asked
	} {
		t.Run(fmt.Sprintf("hops=%d,first=%v,final=%v", c.hops, c.onFirst, c.onFinal), func(t *testing.T) {
			w.reg.Reset()
			c.origin, c.match, c.corrupt = w.reg.Host, byTag, true
			res := newRebaser(rebase.WithTransport(c)).Rebase(w.ctx, app)
			want := " does not match its digest (Docker-Content-Digest sha256:"
			if !c.onFirst && !c.onFinal {
				want = " came through a redirect that named no digest, and the registry has no manifest with the digest of the bytes received (sha256:"
			}
			w.wantFailed(res, "new base "+w.ref("base:stable")+": the registry's answer for "+w.ref("base:stable")+want)
			var mm *rebase.DigestMismatchError
			if !errors.As(res.Err, &mm) || mm.Ref != w.ref("base:stable") || mm.Header == mm.Body {
				t.Errorf("the error is not a DigestMismatchError for base:stable: %#v", res.Err)
			}
			if c.served.Load() == 0 {
				t.Error("nothing was redirected: the test shows nothing")
			}
			if wr := w.reg.Writes(); len(wr) > 0 {
				t.Errorf("pushed %v", wr)
			}
		})
	}
	// By digest: the digest asked for is the check.
	v2 := w.get(w.ref("base:v2")).Digest.String()
	byDigest := &redirector{origin: w.reg.Host, hops: 2, corrupt: true, onFinal: true,
		match: func(r *http.Request) bool { return r.URL.Path == "/v2/base/manifests/"+v2 }}
	res := newRebaser(rebase.WithTransport(byDigest), rebase.WithOldBase(w.ref("base:v1")), rebase.WithNewBase(w.ref("base@"+v2))).Rebase(w.ctx, app)
	w.wantFailed(res, "new base "+w.ref("base@"+v2)+": the registry's answer for "+w.ref("base@"+v2)+" does not have the digest asked for (the bytes received sha256:")
	// Unchanged through three redirects, the header on both, or on none
	// (confirmed by the registry): rebased.
	for _, ok := range []*redirector{
		{origin: w.reg.Host, match: byTag, hops: 3, onFirst: true, onFinal: true},
		{origin: w.reg.Host, match: byTag, hops: 2},
	} {
		res = newRebaser(rebase.WithTransport(ok)).Rebase(w.ctx, app)
		if res.Action != rebase.Rebased || ok.served.Load() == 0 {
			t.Fatalf("through redirects, unchanged (header first %v, final %v): %s (%s), %d answers redirected", ok.onFirst, ok.onFinal, res.Action, res.Reason, ok.served.Load())
		}
		w.verify(res.Output)
	}
}

// 1. Blobs by the same rule: a base config changed behind a redirect is
// refused (go-containerregistry digests every blob it reads).
func TestRedirectedBlobChecked(t *testing.T) {
	w := newWorld(t)
	app := w.movedApp("app", rebasetest.AppSpec{Base: "base:stable"})
	m := w.manifest(w.ref("base@" + w.index(w.ref("base:v2")).Manifests[0].Digest.String()))
	cfg := m.Config.Digest.String()
	c := &redirector{origin: w.reg.Host, hops: 2, corrupt: true, onFinal: true,
		match: func(r *http.Request) bool { return r.URL.Path == "/v2/base/blobs/"+cfg }}
	w.reg.Reset()
	res := newRebaser(rebase.WithTransport(c)).Rebase(w.ctx, app)
	w.wantFailed(res, "new base config: error verifying sha256 checksum after reading")
	if c.served.Load() == 0 {
		t.Error("nothing was redirected: the test shows nothing")
	}
	if wr := w.reg.Writes(); len(wr) > 0 {
		t.Errorf("pushed %v", wr)
	}
}

// 1. A new base on another registry whose manifest names a layer size its
// registry does not serve: the line is refused naming the layer, not with
// net/http's "ContentLength=81 with Body length 91".
func TestCrossRegistryLayerSizeNamed(t *testing.T) {
	b := newWorld(t) // the base's registry
	b.base("base", "v1", rebasetest.BaseSpec{Platforms: []v1.Platform{amd64}})
	b.tag("base:v1", "base:stable")
	a := newWorld(t)
	d, err := rebasetest.PushApp(a.ctx, a.ref("app:latest"), rebasetest.AppSpec{Base: b.ref("base:stable"), Platforms: []v1.Platform{amd64}})
	if err != nil {
		t.Fatal(err)
	}
	app := a.ref("app@" + d.String())
	b.base("base", "v2", rebasetest.BaseSpec{Platforms: []v1.Platform{amd64}})
	// v2's child with its first layer's size 10 bytes short, by digest,
	// in an index tagged stable.
	v2 := b.index(b.ref("base:v2"))
	child := b.get(b.ref("base@" + v2.Manifests[0].Digest.String()))
	var layer string
	var size float64
	raw := editJSON(t, child.Manifest, func(m map[string]any) {
		l := m["layers"].([]any)[0].(map[string]any)
		layer, size = l["digest"].(string), l["size"].(float64)
		l["size"] = size - 10
	})
	lie := b.putManifest("base", raw, child.MediaType)
	idx := editJSON(t, b.get(b.ref("base:v2")).Manifest, func(m map[string]any) {
		c := m["manifests"].([]any)[0].(map[string]any)
		c["digest"], c["size"] = digestOf(lie), len(raw)
	})
	b.tag("base@"+digestOf(b.putManifest("base", idx, v2.MediaType)), "base:stable")
	a.reg.Reset()
	res := newRebaser().Rebase(a.ctx, app)
	a.wantFailed(res, fmt.Sprintf("the registry's answer for %s has more than the %d bytes its manifest says (the manifest or the registry is wrong)", b.ref("base@"+layer), int(size)-10))
	if strings.Contains(res.Reason, "ContentLength") {
		t.Errorf("the reason is net/http's: %s", res.Reason)
	}
}

// reshaped pushes app (a single image) again, by digest, with its manifest's
// bytes changed by edit.
func (w *world) reshaped(app string, edit func(string) string) string {
	w.t.Helper()
	d := w.get(app)
	return w.putManifest(repoOf(app), []byte(edit(string(d.Manifest))), d.MediaType)
}

// 4. Keys that differ only in case: the typed decoder and the byte editor
// would read two documents. A manifest with only "Layers" (a panic once), one
// with a decoy "layers" before the real "Layers" (edited in the decoy and
// pushed broken once), a config whose "Architecture" follows its
// "architecture": each refused, naming the image and the keys; nothing
// pushed.
func TestKeysDifferingInCaseRefused(t *testing.T) {
	w := newWorld(t)
	app := w.movedApp("app", rebasetest.AppSpec{Base: "base:stable", Platforms: []v1.Platform{amd64}})
	onlyUpper := w.reshaped(app, func(s string) string { return strings.Replace(s, `"layers":`, `"Layers":`, 1) })
	decoy := w.reshaped(app, func(s string) string {
		i := strings.Index(s, `"layers":`)
		j := strings.Index(s[i:], "]") + i + 1
		return s[:j] + `,"Layers":` + s[i+len(`"layers":`):j] + s[j:]
	})
	m := w.manifest(app)
	cfg := strings.Replace(string(w.rawConfig(app, m)), `"architecture":"amd64"`, `"architecture":"amd64","Architecture":"arm64"`, 1)
	cd := w.putBlob("app", []byte(cfg))
	cfgCase := w.reshaped(app, func(s string) string {
		s = strings.Replace(s, m.Config.Digest.String(), cd.String(), 1)
		return strings.Replace(s, fmt.Sprintf(`"size":%d`, m.Config.Size), fmt.Sprintf(`"size":%d`, len(cfg)), 1)
	})
	w.reg.Reset()
	for _, c := range []struct{ ref, want string }{
		{onlyUpper, "image: " + onlyUpper + `: the manifest has the JSON key "Layers" where the field is "layers": JSON readers disagree on whether it counts`},
		{decoy, "image: " + decoy + `: the manifest has the JSON keys "layers" and "Layers", which differ only in case: JSON readers disagree on which one counts`},
		{cfgCase, "config " + cd.String() + `: the config has the JSON keys "architecture" and "Architecture", which differ only in case: JSON readers disagree on which one counts`},
	} {
		res := newRebaser().Rebase(w.ctx, c.ref)
		w.wantFailed(res, c.want)
		if res.Reason != c.want {
			t.Errorf("reason\n got %s\nwant %s", res.Reason, c.want)
		}
	}
	if wr := w.reg.Writes(); len(wr) > 0 {
		t.Errorf("pushed %v", wr)
	}
}

// 3. Descriptors that embed their content (data): the rebased config
// descriptors and index descriptors carry no old bytes (Verify checks every
// embedded data against its digest, as go-containerregistry does), and a
// second run is up to date. A descriptor whose data is not its content is
// refused, naming it.
func TestEmbeddedDataNotKeptStale(t *testing.T) {
	w := newWorld(t)
	app := w.must(w.pusher().EmbeddedDataApp("emb"))
	im := w.index(app)
	if im.Manifests[0].Data == nil || w.manifest(w.ref("emb/app@"+im.Manifests[0].Digest.String())).Config.Data == nil {
		t.Fatal("the crafted app embeds nothing: the test shows nothing")
	}
	res := w.mustRebase(app)
	for _, d := range w.index(res.Output).Manifests {
		m := w.manifest(w.ref("emb/app@" + d.Digest.String()))
		if d.Data != nil || m.Config.Data != nil {
			t.Errorf("%s: the rebased descriptors still embed data", d.Digest)
		}
	}
	if again := newRebaser().Rebase(w.ctx, res.Output); again.Action != rebase.UpToDate {
		t.Errorf("second run: %s (%s)", again.Action, again.Reason)
	}

	bad := w.must(w.pusher().BadDataApp("bad"))
	child := w.index(bad).Manifests[0]
	m := w.manifest(w.ref("bad/app@" + child.Digest.String()))
	sum := sha256.Sum256(m.Config.Data)
	w.reg.Reset()
	res = newRebaser().Rebase(w.ctx, bad)
	want := fmt.Sprintf("linux/amd64 manifest %s: %s: the manifest's config embeds data (%d bytes, sha256:%x) that is not its content (%d bytes, %s): readers that use the embedded bytes get something else than the blob",
		child.Digest, w.ref("bad/app@"+child.Digest.String()), len(m.Config.Data), sum, m.Config.Size, m.Config.Digest)
	w.wantFailed(res, want)
	if res.Reason != want {
		t.Errorf("reason\n got %s\nwant %s", res.Reason, want)
	}
	if wr := w.reg.Writes(); len(wr) > 0 {
		t.Errorf("pushed %v", wr)
	}
}

// 2. An index child without a platform (the image-spec makes it optional)
// whose config says linux/arm64 is an image, not an attestation: rebased
// like the others, from its config's platform, and kept in the index; the
// attestation beside it (vnd.docker.reference.type) is still dropped.
func TestChildWithoutPlatformRebased(t *testing.T) {
	w := newWorld(t)
	app := w.must(w.pusher().PlatformlessApp("nop"))
	var old, att string
	for _, d := range w.index(app).Manifests {
		switch {
		case d.Platform == nil && d.Annotations["vnd.docker.reference.type"] != "":
			att = d.Digest.String()
		case d.Platform == nil:
			old = d.Digest.String()
		}
	}
	if old == "" || att == "" {
		t.Fatal("the crafted app has no platformless image and attestation: the test shows nothing")
	}
	res := w.mustRebase(app, rebase.WithStrict(true))
	if want := []string{att + " (unknown, attestation-manifest)"}; !slices.Equal(res.Dropped, want) {
		t.Errorf("dropped %v, want the attestation alone: %v", res.Dropped, want)
	}
	im := w.index(res.Output)
	if len(im.Manifests) != 2 {
		t.Fatalf("%d children, want 2", len(im.Manifests))
	}
	v2 := w.index(w.ref("nop/base:v2"))
	for _, d := range im.Manifests {
		if d.Platform != nil {
			continue
		}
		m := w.manifest(w.ref("nop/app@" + d.Digest.String()))
		if d.Digest.String() == old || w.config(res.Output, m).Architecture != "arm64" {
			t.Errorf("the platformless child %s was not rebased as arm64", d.Digest)
		}
		var arm string
		for _, b := range v2.Manifests {
			if b.Platform.Architecture == "arm64" {
				arm = b.Digest.String()
			}
		}
		if got := m.Annotations[rebase.AnnotationBaseDigest]; got != arm {
			t.Errorf("platformless child on %s, want the new base's arm64 %s", got, arm)
		}
	}
	var found bool
	for _, p := range res.Platforms {
		found = found || p.Platform == "linux/arm64/v8" && p.Action == rebase.Rebased
	}
	if !found {
		t.Errorf("no rebased linux/arm64 in the report: %+v", res.Platforms)
	}
	if again := newRebaser().Rebase(w.ctx, res.Output); again.Action != rebase.UpToDate {
		t.Errorf("second run: %s (%s)", again.Action, again.Reason)
	}
}
