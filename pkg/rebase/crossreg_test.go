package rebase_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// A base on another registry than its images: each new-base layer is read
// from the base's registry once, streamed into the first repository that
// needs it, and mounted from there into every other repository (one POST),
// with all the images in flight at once.
func TestCrossRegistryLayersCopiedOnce(t *testing.T) {
	b := newWorld(t) // the base's registry
	b.base("base", "v1", rebasetest.BaseSpec{})
	b.tag("base:v1", "base:stable")
	a := newWorld(t) // the images'
	const n = 6
	var apps []string
	for i := range n {
		d, err := rebasetest.PushApp(a.ctx, a.ref(fmt.Sprintf("app%d:latest", i)), rebasetest.AppSpec{Base: b.ref("base:stable"), Name: fmt.Sprint("app", i)})
		if err != nil {
			t.Fatal(err)
		}
		apps = append(apps, a.ref(fmt.Sprintf("app%d@%s", i, d)))
	}
	b.base("base", "v2", rebasetest.BaseSpec{})
	b.tag("base:v2", "base:stable")

	// The new base's layers and their sizes.
	sizes := map[string]int64{}
	var total int64
	for _, m := range b.index(b.ref("base:v2")).Manifests {
		for _, l := range b.manifest(b.ref("base@" + m.Digest.String())).Layers {
			sizes[l.Digest.String()] = l.Size
			total += l.Size
		}
	}
	if len(sizes) != 4 {
		t.Fatalf("the new base has %d distinct layers, want 4 (2 platforms of 2)", len(sizes))
	}

	a.reg.Reset()
	b.reg.Reset()
	sum, err := streamLines(newRebaser(rebase.WithReferrers(false), rebase.WithJobs(8)), 8)(a.ctx, strings.NewReader(strings.Join(apps, "\n")), io.Discard, nil)
	if err != nil || sum.Rebased != n {
		t.Fatalf("%s, %v", sum, err)
	}

	// The base's registry: every new-base layer read once, whole.
	reads, readBytes := map[string]int{}, int64(0)
	for _, q := range b.reg.Requests() {
		d := q.Path[strings.LastIndex(q.Path, "/")+1:]
		if q.Method == http.MethodGet && rebasetest.Kind(q.Path) == "blob" && sizes[d] > 0 {
			reads[d]++
			readBytes += q.Bytes
		}
	}
	for d := range sizes {
		if reads[d] != 1 {
			t.Errorf("layer %s read %d times from the base's registry, want once", d, reads[d])
		}
	}
	if readBytes != total {
		t.Errorf("read %d bytes of layers from the base's registry, want %d (the new base's layers once)", readBytes, total)
	}
	if w := b.reg.Writes(); len(w) != 0 {
		t.Errorf("wrote to the base's registry: %v", w)
	}

	// What the results say was copied: the same bytes, once in all.
	var copied int64
	for _, r := range sum.Results {
		copied += r.CopiedBytes
	}
	if copied != total {
		t.Errorf("results say %d bytes copied, want %d", copied, total)
	}

	// The images' registry: per layer one HEAD, POST and PUT into the
	// first repository, one mount POST into each of the others.
	c := a.reg.Counts()
	if c["HEAD blob"] != len(sizes) {
		t.Errorf("%d blob HEADs, want %d (one per layer, in the first repository): %v", c["HEAD blob"], len(sizes), c)
	}
	mounts := 0
	for _, q := range a.reg.Requests() {
		if q.Method == http.MethodPost && strings.Contains(q.Query, "mount=") {
			if q.Status != http.StatusCreated {
				t.Errorf("mount %s answered %d, want 201", q, q.Status)
			}
			mounts++
		}
	}
	if want := len(sizes) * (n - 1); mounts != want {
		t.Errorf("%d mounts, want %d (each layer into %d repositories)", mounts, want, n-1)
	}
	// Every pushed image is whole: each layer of each platform is in its
	// repository.
	for _, r := range sum.Results {
		ref, err := name.ParseReference(r.Output)
		if err != nil {
			t.Fatal(err)
		}
		idx, err := remote.Index(ref, remote.WithContext(a.ctx))
		if err != nil {
			t.Fatal(err)
		}
		im, _ := idx.IndexManifest()
		for _, d := range im.Manifests {
			img, err := idx.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			ls, _ := img.Layers()
			for _, l := range ls {
				ld, _ := l.Digest()
				if _, err := remote.Layer(ref.Context().Digest(ld.String()), remote.WithContext(a.ctx)); err != nil {
					t.Errorf("%s: layer %s: %v", r.Output, ld, err)
				}
			}
		}
	}
	t.Logf("images' registry %v; base's registry: %d requests, %d layer bytes (%d per image)", c, len(b.reg.Requests()), readBytes, readBytes/n)
}
