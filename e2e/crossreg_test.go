package e2e

import (
	"context"
	"encoding/json"
	"fmt"
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

// The base on a second docker-registry, behind a proxy that counts what it
// serves; the apps in five repositories of the suite's registry. The real
// binary reads each layer of the new base once from the base's registry
// (streamed into the first repository, mounted into the others), says so in
// its report, and every rebased image is whole.
func TestCrossRegistryStreamsOnce(t *testing.T) {
	need(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	breg, err := startRegistry(ctx, filepath.Join(t.TempDir(), "registry"))
	if err != nil {
		t.Fatal(err)
	}
	defer breg.stop()
	px, err := faultproxy.New(breg.Host, faultproxy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	base := func(s string) string { return px.Host + "/" + s }
	_, err = rebasetest.PushBase(ctx, base("cross/base:v1"), rebasetest.BaseSpec{Version: "v1"})
	must(err)
	must(rebasetest.Tag(ctx, base("cross/base:v1"), base("cross/base:stable")))
	const n = 5
	var apps []string
	for i := range n {
		ref := fmt.Sprintf("%s/cross/app%d:v1", suite.host, i)
		d, err := rebasetest.PushApp(ctx, ref, rebasetest.AppSpec{Base: base("cross/base:stable"), Name: fmt.Sprint("x", i)})
		must(err)
		apps = append(apps, fmt.Sprintf("%s/cross/app%d@%s", suite.host, i, d))
	}
	_, err = rebasetest.PushBase(ctx, base("cross/base:v2"), rebasetest.BaseSpec{Version: "v2"})
	must(err)
	must(rebasetest.Tag(ctx, base("cross/base:v2"), base("cross/base:stable")))

	// The new base's layers, as the registry lists them.
	sizes, total := map[string]int64{}, int64(0)
	idx, err := remote.Index(mustRef(t, base("cross/base:v2")), remote.WithContext(ctx))
	must(err)
	im, err := idx.IndexManifest()
	must(err)
	for _, d := range im.Manifests {
		img, err := idx.Image(d.Digest)
		must(err)
		m, err := img.Manifest()
		must(err)
		for _, l := range m.Layers {
			sizes[l.Digest.String()] = l.Size
			total += l.Size
		}
	}

	px.ResetStats()
	rep := filepath.Join(t.TempDir(), "report.json")
	code, stdout, stderr := runStream(t, t.TempDir(), strings.Join(apps, "\n")+"\n", "-j", "8", "--report", rep, "-")
	if code != 0 || summaryLine(stderr) != fmt.Sprintf("rebased %d, up to date 0, skipped 0, failed 0", n) {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if got := len(strings.Split(strings.TrimSpace(stdout), "\n")); got != n {
		t.Fatalf("%d output lines, want %d", got, n)
	}

	st := px.Stats()
	reads, layerBytes := map[string]int{}, int64(0)
	for _, e := range px.Trail() {
		if e.Method != http.MethodGet && e.Method != http.MethodHead {
			t.Errorf("the run wrote to the base's registry: %s %s", e.Method, e.Path)
		}
		d := e.Path[strings.LastIndex(e.Path, "/")+1:]
		if e.Method == http.MethodGet && strings.Contains(e.Path, "/blobs/") && sizes[d] > 0 {
			reads[d]++
			layerBytes += e.Bytes
		}
	}
	for d := range sizes {
		if reads[d] != 1 {
			t.Errorf("layer %s read %d times from the base's registry, want once (not once per repository)", d, reads[d])
		}
	}
	if layerBytes != total {
		t.Errorf("%d layer bytes read from the base's registry, want %d: the new base's layers once", layerBytes, total)
	}
	r := readCopied(t, rep)
	if r.CopiedBytes != total {
		t.Errorf("report: copiedBytes %d, want %d", r.CopiedBytes, total)
	}
	var per int64
	for _, im := range r.Images {
		per += im.CopiedBytes
	}
	if per != total {
		t.Errorf("report: the images' copiedBytes add up to %d, want %d", per, total)
	}
	for _, line := range strings.Fields(stdout) {
		checkWhole(t, line)
	}
	t.Logf("base's registry: %d requests, %d bytes (%d of them the new base's %d layers) for %d images in %d repositories",
		st.Requests, st.BytesSent, layerBytes, len(sizes), n, n)
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// copiedReport is the part of --report about bytes copied across registries.
type copiedReport struct {
	CopiedBytes int64
	Images      []struct{ CopiedBytes int64 }
}

func readCopied(t *testing.T, path string) copiedReport {
	t.Helper()
	var r copiedReport
	if err := json.Unmarshal([]byte(readFile(t, path)), &r); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return r
}
