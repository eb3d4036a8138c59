package rebase_test

import (
	"compress/gzip"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// recompressed pushes app (a single image) again with its first k layers
// compressed anew, as buildah and podman push the base's layers to a
// registry that does not have the base's blobs: other layer digests, the
// same diff_ids. It returns the new image's reference by digest.
func (w *world) recompressed(app string, k int) string {
	w.t.Helper()
	r, _ := name.ParseReference(app)
	img, err := remote.Image(r, remote.WithContext(w.ctx))
	if err != nil {
		w.t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		w.t.Fatal(err)
	}
	d := w.get(app)
	raw := editJSON(w.t, d.Manifest, func(m map[string]any) {
		ls := m["layers"].([]any)
		for i := 0; i < k; i++ {
			l, err := tarball.LayerFromOpener(layers[i].Uncompressed, tarball.WithCompressionLevel(gzip.NoCompression))
			if err != nil {
				w.t.Fatal(err)
			}
			if err := remote.WriteLayer(r.Context(), l, remote.WithContext(w.ctx)); err != nil {
				w.t.Fatal(err)
			}
			ld, _ := l.Digest()
			size, _ := l.Size()
			if ld.String() == ls[i].(map[string]any)["digest"] {
				w.t.Fatalf("setup: layer %d compressed anew has the same digest", i)
			}
			ls[i].(map[string]any)["digest"], ls[i].(map[string]any)["size"] = ld.String(), size
		}
	})
	return w.putManifest(repoOf(app), raw, d.MediaType)
}

// An image whose base layers are the base's content in other blobs (buildah
// or podman pushed them compressed anew): the diff_ids say they are the
// base's, so it is rebased (the new base's blobs replace them), and up to
// date while the base has not moved.
func TestRecompressedBaseLayers(t *testing.T) {
	w := newWorld(t)
	single := rebasetest.BaseSpec{Single: true, Platforms: []v1.Platform{amd64}}
	w.base("base", "v1", single)
	w.tag("base:v1", "base:stable")
	app := w.recompressed(w.app("app", rebasetest.AppSpec{Base: "base:stable", Platforms: []v1.Platform{amd64}}), 2)

	if res := newRebaser().Rebase(w.ctx, app); res.Action != rebase.UpToDate {
		t.Errorf("base not moved: %s (%s), want up to date", res.Action, res.Reason)
	}

	w.base("base", "v2", single)
	w.tag("base:v2", "base:stable")
	res := newRebaser().Rebase(w.ctx, app)
	if res.Action != rebase.Rebased {
		t.Fatalf("%s: %s", res.Action, res.Reason)
	}
	got, base, old := w.manifest(res.Output), w.manifest(w.ref("base:v2")), w.manifest(app)
	want := append(digestsOf(base.Layers), digestsOf(old.Layers[2:])...)
	if !slices.Equal(digestsOf(got.Layers), want) {
		t.Errorf("layers %v, want the new base's and the app's %v", digestsOf(got.Layers), want)
	}
	if err := rebasetest.Verify(w.ctx, res.Output); err != nil {
		t.Error(err)
	}
	if again := newRebaser().Rebase(w.ctx, res.Output); again.Action != rebase.UpToDate {
		t.Errorf("second run: %s (%s)", again.Action, again.Reason)
	}
}
