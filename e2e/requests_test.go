package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rebasekit/rebasekit/internal/faultproxy"
)

// docker-registry 2.8 does not take the distribution spec's single-request
// upload: it answers a POST that carries a config with an upload session
// (202), and the engine PUTs the config into it. A config costs two
// requests, as it did before the engine tried; the config rides on a POST
// only in the first uploads of the run (the engine then knows); and the
// report's "requests" are what the registry answered.
func TestConfigUploadOnTheRealRegistry(t *testing.T) {
	need(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	reg, err := startRegistry(ctx, filepath.Join(t.TempDir(), "registry"))
	if err != nil {
		t.Fatal(err)
	}
	defer reg.stop()
	var mu sync.Mutex
	var posts, withBlob int
	px, err := faultproxy.New(reg.Host, faultproxy.Config{Answer: func(req *http.Request) int {
		if req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/blobs/uploads/") && !req.URL.Query().Has("mount") {
			mu.Lock()
			posts++
			if req.ContentLength > 0 {
				withBlob++
			}
			mu.Unlock()
		}
		return 0
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	const n = 3
	apps := movedApps(t, ctx, px.Host+"/up", n)

	px.ResetStats()
	mu.Lock()
	posts, withBlob = 0, 0
	mu.Unlock()
	rep := filepath.Join(t.TempDir(), "report.json")
	code, _, stderr := runStream(t, t.TempDir(), strings.Join(apps, "\n")+"\n", "-j", "1", "-v", "--report", rep, "-")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	trail := px.Trail()
	uploads := map[string]int{}
	for _, e := range trail {
		if strings.HasSuffix(e.Path, "/blobs/uploads/") && e.Method == http.MethodPost {
			uploads[fmt.Sprint("POST ", e.Status)]++
		} else if strings.Contains(e.Path, "/blobs/uploads/") && e.Method == http.MethodPut {
			uploads[fmt.Sprint("PUT ", e.Status)]++
		}
	}
	// 2 configs an image; the mounts are the other 201s of the POSTs.
	if uploads["POST 202"] != 2*n || uploads["PUT 201"] != 2*n || posts != 2*n {
		t.Errorf("uploads %v (%d POSTs of a config), want %d POSTs answered 202 and %d PUTs", uploads, posts, 2*n, 2*n)
	}
	// The first image's two platforms may upload at once; no later one
	// sends its config twice.
	if withBlob < 1 || withBlob > 2 {
		t.Errorf("%d of %d config POSTs carried the config, want the first image's (1 or 2)", withBlob, posts)
	}

	b, err := os.ReadFile(rep)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Requests map[string]struct {
			Total int            `json:"total"`
			Kinds map[string]int `json:"kinds"`
		} `json:"requests"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	got := r.Requests[px.Host]
	if got.Total != len(trail) || got.Kinds["POST upload"] != 2*n || got.Kinds["PUT upload"] != 2*n {
		t.Errorf("report: %d requests (%v), the registry answered %d", got.Total, got.Kinds, len(trail))
	}
	if want := fmt.Sprintf("crane-rebase-stream: requests to %s: %d (", px.Host, len(trail)); !strings.Contains(stderr, want) {
		t.Errorf("-v: stderr lacks %q:\n%s", want, stderr)
	}
}
