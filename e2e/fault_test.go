package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/rebasekit/rebasekit/internal/faultproxy"
	"github.com/rebasekit/rebasekit/pkg/linestream"
	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// The real docker-registry behind a fault-injecting proxy: 503s, connections
// cut mid-upload and mid-answer, answers lost after the registry did the
// work. distribution's upload sessions and absolute upload locations are the
// real thing here. Every image comes out with the digests a fault-free dry
// run computes, and every printed ref names a whole image in the registry.
func TestFlakyDockerRegistry(t *testing.T) {
	need(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	px, err := faultproxy.New(suite.host, faultproxy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	ref := func(s string) string { return px.Host + "/" + s }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err = rebasetest.PushBase(ctx, ref("faulty/base:v1"), rebasetest.BaseSpec{Version: "v1"})
	must(err)
	must(rebasetest.Tag(ctx, ref("faulty/base:v1"), ref("faulty/base:stable")))
	var apps []string
	for i, spec := range []rebasetest.AppSpec{
		{Name: "a"}, {Name: "b", Attestation: true}, {Name: "c", Platforms: []v1.Platform{rebasetest.Platforms[1]}}, {Name: "d"},
	} {
		spec.Base = ref("faulty/base:stable")
		d, err := rebasetest.PushApp(ctx, ref(fmt.Sprintf("faulty/app%d:v1", i)), spec)
		must(err)
		apps = append(apps, ref(fmt.Sprintf("faulty/app%d@%s", i, d)))
	}
	_, err = rebasetest.PushBase(ctx, ref("faulty/base:v2"), rebasetest.BaseSpec{Version: "v2"})
	must(err)
	must(rebasetest.Tag(ctx, ref("faulty/base:v2"), ref("faulty/base:stable")))
	in := strings.Join(apps, "\n") + "\n"

	rebaser := func(opts ...rebase.Option) *rebase.Rebaser {
		r, err := rebase.New(append([]rebase.Option{
			rebase.WithKeychain(authn.NewMultiKeychain()),
			rebase.WithRetryBackoff(remote.Backoff{Duration: 2 * time.Millisecond, Factor: 1.5, Steps: 14}),
			rebase.WithTimeout(time.Minute),
		}, opts...)...)
		must(err)
		return r
	}
	var want bytes.Buffer
	if sum, err := (linestream.Stream{}).Run(ctx, rebaser(rebase.WithDryRun(true)), strings.NewReader(in), &want); err != nil || sum.Rebased != len(apps) {
		t.Fatalf("dry run: %s %v", sum, err)
	}

	px.Set(faultproxy.Config{Every503: 6, EveryCut: 9, EveryConnCut: 4})
	px.ResetStats()
	// New connections, which the proxy may close at accept: not those the
	// dry run left idle (once the HTTPS attempts of every repository's ping
	// made new ones; those are answered from the ping cache now).
	remote.DefaultTransport.(*http.Transport).CloseIdleConnections()
	var out bytes.Buffer
	start := time.Now()
	sum, err := linestream.Stream{Jobs: 1, Each: func(_ int, res rebase.Result) {
		if res.Action != rebase.Rebased {
			t.Errorf("%s: %s (%s)", res.Input, res.Action, res.Reason)
		}
	}}.Run(ctx, rebaser(rebase.WithJobs(1)), strings.NewReader(in), &out)
	must(err)
	st := px.Stats()
	t.Logf("docker-registry behind faults: %s in %s; %s", sum, time.Since(start).Round(time.Millisecond), st)
	if out.String() != want.String() {
		t.Errorf("under faults printed\n%s\nwant (the dry run's)\n%s", out.String(), want.String())
	}
	if st.Unavailable == 0 || st.CutUploads == 0 || st.CutAnswers == 0 || st.ConnsCut == 0 {
		t.Errorf("not every kind of fault happened: %s", st)
	}
	for _, r := range strings.Fields(out.String()) {
		checkWhole(t, strings.Replace(r, px.Host, suite.host, 1))
	}

	// The real binary, with its default retry policy (1s, 3s), through
	// sparser faults: the run is then up to date, and says so.
	px.Set(faultproxy.Config{Every503: 9, EveryCut: 14})
	px.ResetStats()
	start = time.Now()
	code, again, errs := runStream(t, t.TempDir(), out.String(), "--timeout", "1m")
	t.Logf("the binary on the output, behind faults: exit %d in %s; %s", code, time.Since(start).Round(time.Millisecond), px.Stats())
	if code != 0 || again != out.String() || !strings.Contains(errs, fmt.Sprintf("up to date %d,", len(apps))) {
		t.Errorf("second run: exit %d, output %q\n%s", code, again, errs)
	}
}

// checkWhole fetches every manifest, config and layer ref names straight
// from the registry and checks each one's digest.
func checkWhole(t *testing.T, ref string) {
	t.Helper()
	if err := rebasetest.CheckComplete(context.Background(), suite.host, ref); err != nil {
		t.Fatal(err)
	}
}
