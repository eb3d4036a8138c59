package rebase_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/rebasekit/rebasekit/internal/faultproxy"
	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// flaky is a registry behind a fault-injecting proxy. Everything is pushed
// and named through the proxy (so the base annotations name it too), with
// no faults until the test turns them on.
type flaky struct {
	*world
	proxy  *faultproxy.Proxy
	direct string               // the registry's own host:port, past the proxy
	server *rebasetest.Registry // the registry itself
}

func newFlaky(t *testing.T) *flaky {
	t.Helper()
	w := newWorld(t)
	p, err := faultproxy.New(w.reg.Host, faultproxy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	// The world's helpers name everything by its Host: point it at the proxy.
	fw := *w
	fw.reg = &rebasetest.Registry{Host: p.Host}
	return &flaky{world: &fw, proxy: p, direct: w.reg.Host, server: w.reg}
}

// patient retries a lot, fast: the faults come every few requests.
func patient(opts ...rebase.Option) *rebase.Rebaser {
	return newRebaser(append([]rebase.Option{
		rebase.WithRetryBackoff(remote.Backoff{Duration: time.Millisecond, Factor: 1.5, Steps: 14}),
		rebase.WithTimeout(20 * time.Second),
	}, opts...)...)
}

// checkComplete fetches, straight from the registry (not through the
// proxy), every manifest, config and layer that ref names, and checks each
// one's digest: a ref printed by the tool must name a whole image.
func checkComplete(t *testing.T, host, ref string) {
	t.Helper()
	if err := rebasetest.CheckComplete(context.Background(), host, ref); err != nil {
		t.Fatal(err)
	}
}

// Through 503s, cut connections (mid-upload, mid-answer, lost answers) and
// connections closed at accept, every image is rebased to exactly the digest
// a fault-free dry run computes, and every printed ref names a whole image.
func TestSurvivesFlakyRegistry(t *testing.T) {
	for _, jobs := range []int{1, 4} {
		t.Run(fmt.Sprintf("jobs=%d", jobs), func(t *testing.T) { survivesFlakyRegistry(t, jobs) })
	}
}

func survivesFlakyRegistry(t *testing.T, jobs int) {
	f := newFlaky(t)
	f.base("base", "v1", rebasetest.BaseSpec{})
	f.tag("base:v1", "base:stable")
	f.base("dbase", "v1", rebasetest.BaseSpec{Docker: true})
	f.tag("dbase:v1", "dbase:stable")
	// The bases of xapp live on another registry, behind its own proxy:
	// its new base layers are streamed across, under faults on both sides.
	x := newFlaky(t)
	x.base("xbase", "v1", rebasetest.BaseSpec{})
	x.tag("xbase:v1", "xbase:stable")

	apps := []string{
		f.app("app1", rebasetest.AppSpec{Base: "base:stable", Name: "one"}),
		f.app("app2", rebasetest.AppSpec{Base: "base:stable", Name: "two", Attestation: true}),
		f.app("single", rebasetest.AppSpec{Base: "base:stable", Name: "single", Platforms: []v1.Platform{arm64}}),
		f.app("docker", rebasetest.AppSpec{Base: "dbase:stable", Name: "docker"}),
		f.ref("app3:latest"),
	}
	if _, err := rebasetest.PushApp(f.ctx, f.ref("app3:latest"), rebasetest.AppSpec{Base: f.ref("base:stable"), Name: "three"}); err != nil {
		t.Fatal(err)
	}
	d, err := rebasetest.PushApp(f.ctx, f.ref("xapp:latest"), rebasetest.AppSpec{Base: x.ref("xbase:stable"), Name: "x"})
	if err != nil {
		t.Fatal(err)
	}
	apps = append(apps, f.ref("xapp@"+d.String()))
	f.base("base", "v2", rebasetest.BaseSpec{})
	f.tag("base:v2", "base:stable")
	f.base("dbase", "v2", rebasetest.BaseSpec{Docker: true})
	f.tag("dbase:v2", "dbase:stable")
	x.base("xbase", "v2", rebasetest.BaseSpec{})
	x.tag("xbase:v2", "xbase:stable")
	in := strings.Join(apps, "\n") + "\n"

	// What a fault-free run would print.
	var want bytes.Buffer
	sum, err := streamLines(patient(rebase.WithDryRun(true)), 8)(f.ctx, strings.NewReader(in), &want, nil)
	if err != nil || sum.Rebased != len(apps) {
		t.Fatalf("dry run: %s, %v", sum, err)
	}

	// The bases' registry sees about a dozen requests: cut more of them.
	faults, xfaults := faultproxy.Config{Every503: 7, EveryCut: 11, EveryConnCut: 3}, faultproxy.Config{Every503: 7, EveryCut: 4}
	f.proxy.Set(faults)
	x.proxy.Set(xfaults)
	f.proxy.ResetStats()
	x.proxy.ResetStats()
	// New connections, which the proxy may close at accept: not those the
	// dry run left idle.
	remote.DefaultTransport.(*http.Transport).CloseIdleConnections()
	var out bytes.Buffer
	start := time.Now()
	sum, err = streamLines(patient(rebase.WithJobs(jobs)), jobs)(f.ctx, strings.NewReader(in), &out, func(_ int, res rebase.Result) {
		if res.Action != rebase.Rebased {
			t.Errorf("%s: %s: %s", res.Input, res.Action, res.Reason)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	st, xst := f.proxy.Stats(), x.proxy.Stats()
	t.Logf("%s in %s; apps' registry: %s; bases' registry: %s", sum, time.Since(start).Round(time.Millisecond), st, xst)
	if out.String() != want.String() {
		t.Errorf("under faults printed\n%s\nwant (the dry run's)\n%s", out.String(), want.String())
	}
	// With one job the requests come in nearly a fixed order (one image's
	// reads overlap, no more), so every kind of fault happens.
	if jobs == 1 && (st.Unavailable == 0 || st.CutUploads == 0 || st.CutAnswers == 0 || st.ConnsCut == 0 || xst.Cut == 0) {
		t.Errorf("not every kind of fault happened: %s; %s", st, xst)
	}

	f.proxy.Set(faultproxy.Config{})
	x.proxy.Set(faultproxy.Config{})
	outs := strings.Fields(out.String())
	for _, ref := range outs {
		checkComplete(t, f.direct, strings.Replace(ref, f.proxy.Host, f.direct, 1))
	}

	// Rebasing the output again, under faults: all up to date, nothing pushed.
	f.proxy.Set(faults)
	x.proxy.Set(xfaults)
	sum, err = streamLines(patient(rebase.WithJobs(jobs)), jobs)(f.ctx, strings.NewReader(out.String()), io.Discard, nil)
	if err != nil || sum.UpToDate != len(apps) {
		t.Errorf("second run: %s, %v", sum, err)
	}
}

// A registry that accepts connections and never answers: every line is
// echoed with a timeout error, and the run ends within about the timeout.
func TestRegistryDown(t *testing.T) {
	f := newFlaky(t)
	f.base("base", "v1", rebasetest.BaseSpec{})
	f.tag("base:v1", "base:stable")
	apps := []string{
		f.app("app1", rebasetest.AppSpec{Base: "base:stable", Name: "one"}),
		f.app("app2", rebasetest.AppSpec{Base: "base:stable", Name: "two"}),
		f.ref("app2:latest"),
	}
	f.proxy.SetDown(true)
	f.proxy.ResetStats()
	in := strings.Join(apps, "\n") + "\n"
	var out bytes.Buffer
	const timeout = 300 * time.Millisecond
	start := time.Now()
	sum, err := streamLines(patient(rebase.WithTimeout(timeout)), 8)(context.Background(), strings.NewReader(in), &out, func(_ int, res rebase.Result) {
		if res.Action != rebase.Failed || !strings.HasPrefix(res.Reason, "timed out after 300ms: image: ") || !strings.HasSuffix(res.Reason, "context deadline exceeded") {
			t.Errorf("%s: %s (%s), want failed: timed out after 300ms: image: ...", res.Input, res.Action, res.Reason)
		}
		// net/http arms its own timer from the deadline and may give up a
		// millisecond or two before the context itself is done.
		if res.DurationMs < timeout.Milliseconds()*9/10 || res.DurationMs > 5*timeout.Milliseconds() {
			t.Errorf("%s: took %dms with a %s timeout", res.Input, res.DurationMs, timeout)
		}
	})
	took := time.Since(start)
	if err != nil || sum.Failed != len(apps) || out.String() != in {
		t.Errorf("registry down: %s, %v; output %q", sum, err, out.String())
	}
	if took > 5*timeout {
		t.Errorf("the run took %s with a %s timeout per image", took, timeout)
	}
	t.Logf("down: %s in %s; %s", sum, took.Round(time.Millisecond), f.proxy.Stats())
}

// The engine's own writer retries every kind of write it makes, each
// failing once, and the result is whole: on a registry that takes the
// single-request upload (a config is one POST) and on one that answers it
// with an upload session, as docker-registry 2.8 does (a POST and a PUT).
func TestPushRetriesEveryWrite(t *testing.T) {
	for _, sessions := range []bool{false, true} {
		t.Run(fmt.Sprint("sessions=", sessions), func(t *testing.T) { pushRetriesEveryWrite(t, sessions) })
	}
}

func pushRetriesEveryWrite(t *testing.T, sessions bool) {
	f := newFlaky(t)
	f.server.SessionUploadsOnly(sessions)
	f.base("base", "v1", rebasetest.BaseSpec{})
	f.tag("base:v1", "base:stable")
	app := f.app("app", rebasetest.AppSpec{Base: "base:stable"})
	f.base("base", "v2", rebasetest.BaseSpec{})
	f.tag("base:v2", "base:stable")

	// The first POST (a mount), the first config upload (its POST, and its
	// PUT where there is one), the first manifest PUT and the index PUT
	// each get a 503 once; every other write is cut once on the way: no
	// write succeeds at its first try.
	var mu sync.Mutex
	failed := map[string]bool{}
	f.proxy.Set(faultproxy.Config{Answer: func(req *http.Request) int {
		mu.Lock()
		defer mu.Unlock()
		if req.Method == http.MethodGet || req.Method == http.MethodHead {
			return 0
		}
		k := req.Method + " " + rebasetest.Kind(req.URL.Path)
		if req.Method == http.MethodPost && req.URL.Query().Get("mount") != "" {
			k += " mount"
		}
		if failed[k] {
			return 0
		}
		failed[k] = true
		return http.StatusServiceUnavailable
	}})
	res := patient(rebase.WithJobs(1), rebase.WithReferrers(false)).Rebase(f.ctx, app)
	if res.Action != rebase.Rebased {
		t.Fatalf("%s: %s", res.Action, res.Reason)
	}
	keys := make([]string, 0, len(failed))
	for k := range failed {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"POST upload", "POST upload mount", "PUT manifest"}
	if sessions {
		want = append(want, "PUT upload")
	}
	if !slices.Equal(keys, want) {
		t.Errorf("writes answered 503 once: %v, want %v", keys, want)
	}
	checkComplete(t, f.direct, strings.Replace(res.Output, f.proxy.Host, f.direct, 1))
}

// TLS is verified: a registry with a certificate nobody signed is refused at
// once (not retried), and the line is echoed.
func TestTLSVerified(t *testing.T) {
	srv := httptest.NewUnstartedServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	// A registry name that is not loopback (loopback ones may fall back
	// to plain HTTP), dialled to the test server.
	addr := strings.TrimPrefix(srv.URL, "https://")
	tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	in := "registry.example.com/app:v1"
	start := time.Now()
	r, err := rebase.New(rebase.WithKeychain(authn.NewMultiKeychain()), rebase.WithTransport(tr))
	if err != nil {
		t.Fatal(err)
	}
	res := r.Rebase(context.Background(), in) // default retry policy
	if res.Action != rebase.Failed || res.Output != in || !strings.Contains(res.Reason, "x509: certificate signed by unknown authority") {
		t.Errorf("self-signed registry: %s %q (%s), want failed on the certificate", res.Action, res.Output, res.Reason)
	}
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Errorf("a certificate error was retried: %s", d)
	}
}

// A base whose tag answers 503 every time fails the line after one round of
// retries: the warm-up that asks for it first and the plan that waits for
// it share the failure (8a47d5d asked 3 times; before this was shared, the
// plan retried again after the warm-up: 6).
func TestDeadBaseRetriedOnce(t *testing.T) {
	f := newFlaky(t)
	app := f.movedApp("app", rebasetest.AppSpec{Base: "base:stable"})
	var asked atomic.Int64
	f.proxy.Set(faultproxy.Config{Answer: func(req *http.Request) int {
		if req.URL.Path == "/v2/base/manifests/stable" {
			asked.Add(1)
			return http.StatusServiceUnavailable
		}
		return 0
	}})
	res := newRebaser(rebase.WithRetryBackoff(remote.Backoff{Duration: time.Millisecond, Factor: 2, Steps: 3})).Rebase(f.ctx, app)
	if res.Action != rebase.Failed {
		t.Fatalf("%s: %s", res.Action, res.Reason)
	}
	if n := asked.Load(); n != 3 {
		t.Errorf("base:stable asked %d times, want 3 (one round of retries)", n)
	}
}

// A registry that refuses the single-request upload outright (400, 405: it
// does not understand it, where docker-registry opens a session) gets the
// config in an upload session, and is not sent the single request again
// in this run.
func TestSingleRequestUploadRefused(t *testing.T) {
	for _, code := range []int{http.StatusBadRequest, http.StatusMethodNotAllowed} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			f := newFlaky(t)
			f.base("base", "v1", rebasetest.BaseSpec{})
			f.tag("base:v1", "base:stable")
			apps := []string{
				f.app("app1", rebasetest.AppSpec{Base: "base:stable", Name: "one"}),
				f.app("app2", rebasetest.AppSpec{Base: "base:stable", Name: "two"}),
			}
			f.base("base", "v2", rebasetest.BaseSpec{})
			f.tag("base:v2", "base:stable")
			var refused atomic.Int64
			f.proxy.Set(faultproxy.Config{Answer: func(req *http.Request) int {
				if req.Method == http.MethodPost && req.URL.Query().Has("digest") {
					refused.Add(1)
					return code
				}
				return 0
			}})
			r := newRebaser(rebase.WithJobs(1))
			for _, app := range apps {
				res := r.Rebase(f.ctx, app)
				if res.Action != rebase.Rebased {
					t.Fatalf("%s: %s", res.Action, res.Reason)
				}
				checkComplete(t, f.direct, strings.Replace(res.Output, f.proxy.Host, f.direct, 1))
			}
			if n := refused.Load(); n != 1 {
				t.Errorf("%d single-request uploads sent, want 1 (then remembered for the run)", n)
			}
		})
	}
}
