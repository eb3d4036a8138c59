package rebase_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// noNetwork fails every request and counts them.
type noNetwork struct{ n atomic.Int64 }

func (c *noNetwork) RoundTrip(req *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return nil, errors.New("no network in a layout run: " + req.URL.String())
}

// airGapped writes a layout holding an app built on base v1 (its base.name
// example.com/base:stable) and both bases, under the given ref.names.
func airGapped(t *testing.T, names map[string]string) (dir string, v1b, v2b v1.ImageIndex) {
	t.Helper()
	var err error
	if v1b, err = rebasetest.BaseIndex("v1"); err != nil {
		t.Fatal(err)
	}
	if v2b, err = rebasetest.BaseIndex("v2"); err != nil {
		t.Fatal(err)
	}
	app, err := rebasetest.KoApp("example.com/base:stable", v1b, "hello")
	if err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(t.TempDir(), "images")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	for what, idx := range map[string]v1.ImageIndex{"app": app, "v1": v1b, "v2": v2b} {
		if names[what] == "" {
			continue
		}
		if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": names[what]})); err != nil {
			t.Fatal(err)
		}
	}
	return dir, v1b, v2b
}

// A layout line is rebased inside its layout with no request at all, by
// the flags (bases in the layout) and by the annotations (the base.name a
// ref.name of the layout); the result's base.name is the registry name the
// image had.
func TestLayoutRebase(t *testing.T) {
	for _, tc := range []struct {
		name  string
		names map[string]string
		flags bool
	}{
		{"flags", map[string]string{"app": "app", "v1": "base-v1", "v2": "base-v2"}, true},
		{"annotations", map[string]string{"app": "app", "v1": "base-v1", "v2": "example.com/base:stable"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, _, v2b := airGapped(t, tc.names)
			net := &noNetwork{}
			opts := []rebase.Option{rebase.WithTransport(net), rebase.WithTag(true)}
			if tc.flags {
				opts = append(opts, rebase.WithOldBase("oci:"+dir+":base-v1"), rebase.WithNewBase("oci:"+dir+":base-v2"))
			}
			r := newRebaser(opts...)
			in := "oci:" + dir + ":app"
			res := r.Rebase(context.Background(), in)
			if res.Err != nil || res.Action != rebase.Rebased || res.Output != in+"@"+res.NewDigest || res.Tagged != in {
				t.Fatalf("%+v", res)
			}
			if n := net.n.Load(); n != 0 {
				t.Errorf("%d requests in a layout run", n)
			}
			p, err := layout.FromPath(dir)
			if err != nil {
				t.Fatal(err)
			}
			top, err := p.ImageIndex()
			if err != nil {
				t.Fatal(err)
			}
			im, _ := top.IndexManifest()
			var named v1.Hash
			for _, d := range im.Manifests {
				if d.Annotations["org.opencontainers.image.ref.name"] == "app" {
					named = d.Digest
				}
			}
			if named.String() != res.NewDigest {
				t.Fatalf("ref.name app names %s, want %s", named, res.NewDigest)
			}
			idx, err := top.ImageIndex(named)
			if err != nil {
				t.Fatal(err)
			}
			if err := validate.Index(idx); err != nil {
				t.Error(err)
			}
			cim, _ := idx.IndexManifest()
			for _, d := range cim.Manifests {
				img, _ := idx.Image(d.Digest)
				m, _ := img.Manifest()
				_, nb, err := rebasetest.Child(v2b, *d.Platform)
				if err != nil {
					t.Fatal(err)
				}
				if m.Annotations[rebase.AnnotationBaseName] != "example.com/base:stable" || m.Annotations[rebase.AnnotationBaseDigest] != nb.String() {
					t.Errorf("%s: annotations %v", d.Platform, m.Annotations)
				}
			}
			// Again: up to date, the same line.
			again := newRebaser(opts...).Rebase(context.Background(), res.Output)
			if again.Action != rebase.UpToDate || again.Output != res.Output || net.n.Load() != 0 {
				t.Errorf("second run: %+v", again)
			}
		})
	}
}

// What a layout line cannot do is refused in words: bases in a registry
// for an image in a layout, and the other way round, and a layout that
// lacks the base its image names.
func TestLayoutRefusals(t *testing.T) {
	dir, _, _ := airGapped(t, map[string]string{"app": "app", "v1": "base-v1", "v2": "base-v2"})
	in := "oci:" + dir + ":app"
	for _, tc := range []struct {
		name, in string
		opts     []rebase.Option
		want     string
	}{
		{"registry bases", in, []rebase.Option{rebase.WithOldBase("example.com/base:v1"), rebase.WithNewBase("example.com/base:v2")},
			"the image is in the OCI layout " + dir + " and its bases are not (example.com/base:v1, example.com/base:v2): name both bases in a layout, as oci:DIR:NAME"},
		{"base not in the layout", in, nil,
			"its base example.com/base:stable (base.name) is not in the OCI layout " + dir + " under that ref.name: copy it in (skopeo copy --all docker://example.com/base:stable oci:" + dir + ":example.com/base:stable), or name the old and the new base in the layout, as oci:DIR:NAME"},
		{"no layout", "oci:" + dir + "-nope:app", nil,
			dir + "-nope is not an OCI image layout: it has no oci-layout file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			net := &noNetwork{}
			res := newRebaser(append(tc.opts, rebase.WithTransport(net))...).Rebase(context.Background(), tc.in)
			if res.Action != rebase.Failed || res.Output != tc.in {
				t.Fatalf("%+v", res)
			}
			// An index's reason names the platform that failed first.
			if got := platformPrefix.ReplaceAllString(res.Reason, ""); !strings.HasPrefix(got, tc.want) {
				t.Errorf("reason %q, want %q", res.Reason, tc.want)
			}
			if net.n.Load() != 0 {
				t.Errorf("%d requests for a layout line", net.n.Load())
			}
		})
	}

	// An image on a registry takes no base from a layout.
	w := newWorld(t)
	app := w.movedApp("apps/hello", rebasetest.AppSpec{Base: "base:stable"})
	base := "oci:" + dir + ":base-v2"
	res := newRebaser(rebase.WithOldBase("oci:"+dir+":base-v1"), rebase.WithNewBase(base)).Rebase(w.ctx, app)
	want := "the image is in a registry and its base " + base + " in an OCI layout: a rebase reads its bases where the image is"
	if got := platformPrefix.ReplaceAllString(res.Reason, ""); res.Action != rebase.Failed || got != want {
		t.Errorf("a registry image with layout bases: %s %q, want %q", res.Action, res.Reason, want)
	}
}

var platformPrefix = regexp.MustCompile(`^linux/[a-z0-9]+(/v[0-9])?: `)

// Messages name layout references as the user spells them: oci:DIR:NAME,
// oci:DIR@sha256:HEX, never the names the engine plans with.
func TestLayoutMessages(t *testing.T) {
	dir, v1b, _ := airGapped(t, map[string]string{"app": "app", "v2": "base-v2"})
	old, err := v1b.Digest()
	if err != nil {
		t.Fatal(err)
	}
	in := "oci:" + dir + ":app"
	for _, tc := range []struct {
		old, want string
	}{
		{"oci:" + dir + ":base-v1", "old base oci:" + dir + ":base-v1 not found (" + dir + ` has no image named "base-v1" in its index.json (org.opencontainers.image.ref.name))`},
		{"oci:" + dir + "@" + old.String(), "old base oci:" + dir + "@" + old.String() + " not found (" + dir + " has no blob " + old.String() + ")"},
	} {
		res := newRebaser(rebase.WithOldBase(tc.old), rebase.WithNewBase("oci:"+dir+":base-v2")).Rebase(context.Background(), in)
		if got := platformPrefix.ReplaceAllString(res.Reason, ""); res.Action != rebase.Failed || got != tc.want || res.Err.Error() != res.Reason {
			t.Errorf("old base %s: %s %q (err %q), want %q", tc.old, res.Action, res.Reason, res.Err, tc.want)
		}
	}
}
