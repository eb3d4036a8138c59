package rebase_test

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// roundTrips adds latency to every request and counts the round trips on
// the critical path: a request starts at the depth of the deepest answer
// received before it was sent, and its answer is one deeper. With a latency
// far above the engine's own work between requests, the depth is the
// number of round trips a registry that far away makes the run wait for.
type roundTrips struct {
	inner   http.RoundTripper
	latency time.Duration

	mu    sync.Mutex
	depth int
	log   []string
}

func (l *roundTrips) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "https" {
		// The test registry is in plain HTTP on loopback, where an attempt
		// in HTTPS fails at once: no round trip to a remote host.
		return l.inner.RoundTrip(req)
	}
	l.mu.Lock()
	d := l.depth + 1
	l.mu.Unlock()
	time.Sleep(l.latency)
	resp, err := l.inner.RoundTrip(req)
	l.mu.Lock()
	l.log = append(l.log, fmt.Sprintf("%2d %s %s", d, req.Method, req.URL.Path))
	l.depth = max(l.depth, d)
	l.mu.Unlock()
	return resp, err
}

func (l *roundTrips) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	sort.Strings(l.log)
	return fmt.Sprintf("%d round trips, %d requests:\n%s", l.depth, len(l.log), strings.Join(l.log, "\n"))
}

// A two-platform image behind 100 ms a round trip is rebased in 8 round
// trips of wall time on a registry that takes the single-request upload, as
// this one does (ping; index; its platform manifests and the new base's
// tag; the configs and both bases' platform manifests, the referrers check;
// the bases' configs; mounts and config uploads; platform manifests; index),
// 9 on docker-registry, whose config uploads take two (bench/latency.sh);
// and so is a stream of images whose requests fit --jobs and the
// per-registry bound (16 in flight): one image's reads do not wait for
// another's.
// Before, the same image took 15 (18 with the HTTPS attempts a plain-HTTP
// registry gets).
func TestCriticalPath(t *testing.T) {
	for _, n := range []int{1, 2} {
		t.Run(fmt.Sprintf("images=%d", n), func(t *testing.T) {
			w := newWorld(t)
			w.base("base", "v1", rebasetest.BaseSpec{})
			w.tag("base:v1", "base:stable")
			var in []string
			for i := range n {
				in = append(in, w.app(fmt.Sprintf("app%d", i), rebasetest.AppSpec{Base: "base:stable", Name: fmt.Sprint(i)}))
			}
			w.base("base", "v2", rebasetest.BaseSpec{})
			w.tag("base:v2", "base:stable")

			rt := &roundTrips{inner: http.DefaultTransport, latency: 100 * time.Millisecond}
			r := newRebaser(rebase.WithTransport(rt))
			var out strings.Builder
			sum, err := streamLines(r, 8)(w.ctx, strings.NewReader(strings.Join(in, "\n")+"\n"), &out, nil)
			if err != nil || sum.Rebased != n {
				t.Fatalf("%s, %v", sum, err)
			}
			if rt.depth > 8 {
				t.Errorf("%d images: %s", n, rt)
			} else {
				t.Logf("%d images: %d round trips", n, rt.depth)
			}
			for _, ref := range strings.Fields(out.String()) {
				checkComplete(t, w.reg.Host, ref)
			}
		})
	}
}
