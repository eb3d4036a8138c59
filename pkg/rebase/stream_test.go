package rebase_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rebasekit/rebasekit/pkg/linestream"
	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

func TestStreamOneLineOutPerLineIn(t *testing.T) {
	w := newWorld(t)
	w.base("base", "v1", rebasetest.BaseSpec{})
	w.tag("base:v1", "base:stable")
	w.base("other", "v1", rebasetest.BaseSpec{})
	w.tag("other:v1", "other:stable")
	app1 := w.app("app1", rebasetest.AppSpec{Base: "base:stable"})
	w.app("app2", rebasetest.AppSpec{Base: "base:stable", Name: "two"})
	current := w.app("current", rebasetest.AppSpec{Base: "other:stable"})
	plain := w.app("plain", rebasetest.AppSpec{Base: "base:stable", NoAnnotations: true})
	w.base("base", "v2", rebasetest.BaseSpec{})
	w.tag("base:v2", "base:stable")

	app2 := w.ref("app2:latest")
	lines := []string{
		app1,
		"",
		"garbage line!",
		"  " + app2 + "  ",
		current,
		"# a comment",
		app1,
		w.ref("nothere:v1"),
		"\t",
		plain, // no final newline
	}
	in := strings.Join(lines, "\n")
	var out bytes.Buffer
	var seen []int
	sum, err := streamLines(newRebaser(rebase.WithJobs(3)), 3)(w.ctx, strings.NewReader(in), &out, func(n int, res rebase.Result) {
		seen = append(seen, n)
	})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(got) != len(lines) {
		t.Fatalf("%d lines out for %d in:\n%s", len(got), len(lines), out.String())
	}
	for i, l := range lines {
		switch i {
		case 0, 6:
			if !strings.HasPrefix(got[i], w.ref("app1@sha256:")) || got[i] == l {
				t.Errorf("line %d: %q, want app1 rebased", i+1, got[i])
			}
		case 3:
			if !strings.HasPrefix(got[i], "  "+app2+"@sha256:") || !strings.HasSuffix(got[i], "  ") {
				t.Errorf("line %d: %q, want app2:latest pinned to the rebased digest, spacing kept", i+1, got[i])
			}
		default:
			if got[i] != l {
				t.Errorf("line %d: %q, want the input echoed %q", i+1, got[i], l)
			}
		}
	}
	if got[0] != got[6] {
		t.Errorf("the same ref gave %s and %s", got[0], got[6])
	}
	if want := "rebased 3, up to date 1, skipped 1, failed 2"; sum.String() != want {
		t.Errorf("summary %q, want %q", sum.String(), want)
	}
	for i, n := range seen {
		if n != i+1 {
			t.Fatalf("callback order %v", seen)
		}
	}
	if len(seen) != len(lines) {
		t.Errorf("callback called %d times for %d lines", len(seen), len(lines))
	}
}

// The answer for a line is written while the input is still open.
func TestStreamDoesNotWaitForEOF(t *testing.T) {
	w := newWorld(t)
	w.base("base", "v1", rebasetest.BaseSpec{})
	w.tag("base:v1", "base:stable")
	app := w.app("app", rebasetest.AppSpec{Base: "base:stable"})

	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := streamLines(newRebaser(), 8)(w.ctx, inR, outW, nil)
		outW.Close()
		done <- err
	}()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	for i := 0; i < 3; i++ {
		fmt.Fprintln(inW, app)
		select {
		case l := <-lines:
			if l != app {
				t.Errorf("got %q, want %q", l, app)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no output line before EOF")
		}
	}
	inW.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// Cancelling (SIGINT) while the input is still open ends the stream after
// answering what was read.
func TestStreamStopsWhenCancelled(t *testing.T) {
	w := newWorld(t)
	w.base("base", "v1", rebasetest.BaseSpec{})
	w.tag("base:v1", "base:stable")
	app := w.app("app", rebasetest.AppSpec{Base: "base:stable"})

	ctx, cancel := context.WithCancel(w.ctx)
	inR, inW := io.Pipe()
	defer inW.Close()
	var out bytes.Buffer
	done := make(chan linestream.Summary, 1)
	answered := make(chan struct{})
	go func() {
		sum, _ := streamLines(newRebaser(), 8)(ctx, inR, &out, func(int, rebase.Result) { close(answered) })
		done <- sum
	}()
	fmt.Fprintln(inW, app)
	<-answered
	cancel()
	select {
	case sum := <-done:
		if sum.UpToDate != 1 || out.String() != app+"\n" {
			t.Errorf("after cancel: %s, output %q", sum, out.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Stream did not return after cancel with its input open")
	}
}

// reads counts the GET and HEAD requests by kind.
func reads(reqs []rebasetest.Request) map[string]int {
	m := map[string]int{}
	for _, r := range reqs {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			m[r.Method+" "+rebasetest.Kind(r.Path)]++
		}
	}
	return m
}

// Request counts: the protocol floor is about 1 manifest GET per manifest plus
// 1 per distinct base and 1 per base platform for a no-op (its layers decide
// that an image is up to date), 5+N per platform for a real rebase.
func TestRequestCounts(t *testing.T) {
	for _, n := range []int{1, 4} {
		t.Run(fmt.Sprint(n), func(t *testing.T) { requestCounts(t, n) })
	}
}

func requestCounts(t *testing.T, n int) {
	w := newWorld(t)
	w.base("base", "v1", rebasetest.BaseSpec{})
	w.tag("base:v1", "base:stable")
	var apps []string
	for i := 0; i < n; i++ {
		apps = append(apps, w.app(fmt.Sprintf("app%d", i), rebasetest.AppSpec{Base: "base:stable", Name: fmt.Sprint("app", i)}))
	}
	run := func(opts ...rebase.Option) (linestream.Summary, []rebasetest.Request) {
		w.reg.Reset()
		sum, err := streamLines(newRebaser(opts...), 8)(w.ctx, strings.NewReader(strings.Join(apps, "\n")), io.Discard, nil)
		if err != nil {
			t.Fatal(err)
		}
		return sum, w.reg.Requests()
	}
	sum, reqs := run()
	if sum.UpToDate != n {
		t.Fatalf("no-op run: %s", sum)
	}
	t.Logf("no-op: %d requests for %d two-platform images (%.1f per image): %v", len(reqs), n, float64(len(reqs))/float64(n), w.reg.Counts())
	// Floor: 3 manifests per image + 1 base and its 2 platform manifests; we
	// add 1 ping per registry.
	if max := n*3 + 3 + 1; len(reqs) > max {
		t.Errorf("no-op cost %d requests, want at most %d: %v", len(reqs), max, reqs)
	}
	if pings := w.reg.Counts()["GET ping"]; pings != 1 {
		t.Errorf("no-op pinged %d times, want once for the one registry", pings)
	}

	w.base("base", "v2", rebasetest.BaseSpec{})
	w.tag("base:v2", "base:stable")
	sum, reqs = run(rebase.WithReferrers(false), rebase.WithDryRun(true))
	t.Logf("dry run: %d requests for %d two-platform images (%.1f per image): %v", len(reqs), n, float64(len(reqs))/float64(n), w.reg.Counts())
	sum, reqs = run(rebase.WithReferrers(false))
	if sum.Rebased != n {
		t.Fatalf("rebase run: %s", sum)
	}
	t.Logf("rebase: %d requests for %d two-platform images (%.1f per image): %v", len(reqs), n, float64(len(reqs))/float64(n), w.reg.Counts())
	// Floor: per platform 5 + 2 base layers, per index GET + PUT, per run
	// the bases' manifests and configs; we add 1 ping per registry.
	if max := n*(2*(5+2)+2) + 10; len(reqs) > max {
		t.Errorf("rebase cost %d requests, want at most %d: %v", len(reqs), max, reqs)
	}
	if pings := w.reg.Counts()["GET ping"]; pings != 1 {
		t.Errorf("rebase pinged %d times, want once for the one registry", pings)
	}
	// Configs: each image's, per platform, and the old and new base's per
	// platform, once per run. The config merge (configmerge.go) needs the
	// same two base configs as the diff_ids and history swap: it adds no
	// request (26 for 1 image, 74 for 4, as before it).
	if got, want := w.reg.Counts()["GET blob"], 2*n+2*2; got != want {
		t.Errorf("rebase read %d blobs, want %d: the image configs and the 2 base configs per platform", got, want)
	}
	_, dryReqs := run(rebase.WithDryRun(true))
	dryReads := reads(dryReqs)
	sum, reqs = run()
	t.Logf("rebase with the referrers check: %d requests (%.1f per image): %v", len(reqs), float64(len(reqs))/float64(n), w.reg.Counts())
	// A dry run is Plan without Write: it reads exactly what the real run
	// reads (the base layers are mounted here, never read).
	if got := reads(reqs); fmt.Sprint(got) != fmt.Sprint(dryReads) {
		t.Errorf("reads of the real run %v, of the dry run %v: want the same", got, dryReads)
	}
	// One tag listing per repository; the referrers API is asked once: this
	// registry answers it with 404, so it has none.
	if c := w.reg.Counts(); c["GET tags"] != n || c["GET referrers"] != 1 {
		t.Errorf("referrers check: %d tag listings, %d referrers API requests; want %d and 1", c["GET tags"], c["GET referrers"], n)
	}
	var outs []string
	for _, r := range sum.Results {
		outs = append(outs, r.Output)
	}
	apps = outs
	sum, reqs = run()
	if sum.UpToDate != n {
		t.Errorf("after the rebase: %s", sum)
	}
	t.Logf("no-op after rebase: %d requests (%s)", len(reqs), sum)
}
