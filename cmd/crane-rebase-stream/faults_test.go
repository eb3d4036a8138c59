package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rebasekit/rebasekit/internal/faultproxy"
	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// behindProxy is setup's world with every reference (and every base
// annotation) through a fault-injecting proxy, faults off.
func behindProxy(t *testing.T) (p *faultproxy.Proxy, app1, app2 string) {
	t.Helper()
	p = proxiedRegistry(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ref := func(s string) string { return p.Host + "/" + s }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := rebasetest.PushBase(ctx, ref("base:v1"), rebasetest.BaseSpec{Version: "v1"})
	must(err)
	must(rebasetest.Tag(ctx, ref("base:v1"), ref("base:stable")))
	d1, err := rebasetest.PushApp(ctx, ref("app1:v1"), rebasetest.AppSpec{Base: ref("base:stable"), Name: "one"})
	must(err)
	d2, err := rebasetest.PushApp(ctx, ref("app2:v1"), rebasetest.AppSpec{Base: ref("base:stable"), Name: "two"})
	must(err)
	_, err = rebasetest.PushBase(ctx, ref("base:v2"), rebasetest.BaseSpec{Version: "v2"})
	must(err)
	must(rebasetest.Tag(ctx, ref("base:v2"), ref("base:stable")))
	return p, ref("app1@" + d1.String()), ref("app2@" + d2.String())
}

// A registry that accepts connections and never answers: every line is
// echoed, each with a timeout error, exit 1, within about the timeout.
func TestRegistryDownEchoesEveryLine(t *testing.T) {
	p, app1, app2 := behindProxy(t)
	p.SetDown(true)
	in := app1 + "\n\n" + app2 + "\n"
	start := time.Now()
	code, out, errs := runCmd(t, in, "--timeout", "300ms")
	took := time.Since(start)
	if code != 1 || out != in {
		t.Errorf("exit %d, output %q; want 1 and the input echoed", code, out)
	}
	for _, ref := range []string{app1, app2} {
		if !strings.Contains(errs, "crane-rebase-stream: "+ref+": error: timed out after 300ms: image: ") {
			t.Errorf("stderr does not explain %s:\n%s", ref, errs)
		}
	}
	if !strings.HasSuffix(errs, "crane-rebase-stream: rebased 0, up to date 0, skipped 0, failed 2\n") {
		t.Errorf("stderr does not end with the summary:\n%s", errs)
	}
	if took > 3*time.Second {
		t.Errorf("took %s with --timeout 300ms", took)
	}
	t.Logf("registry down: exit %d in %s; %s", code, took.Round(time.Millisecond), p.Stats())
}

// buildBinary builds crane-rebase-stream into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "crane-rebase-stream")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// proc is the binary running with its stdin kept open.
type proc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr *syncBuffer
	exited chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func start(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), lines: make(chan string, 100), stderr: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd.Stderr = p.stderr
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	t.Cleanup(func() {
		p.stdin.Close()
		select {
		case <-p.exited:
		default:
			p.cmd.Process.Kill()
		}
	})
	return p
}

func (p *proc) signal(t *testing.T, s os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(s); err != nil {
		t.Fatal(err)
	}
}

// wait returns every stdout line left and the exit status.
func (p *proc) wait(t *testing.T, within time.Duration) ([]string, int) {
	t.Helper()
	var lines []string
	timeout := time.After(within)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				err := p.cmd.Wait()
				close(p.exited)
				var ee *exec.ExitError
				if err != nil && !errors.As(err, &ee) {
					t.Fatal(err)
				}
				return lines, p.cmd.ProcessState.ExitCode()
			}
			lines = append(lines, l)
		case <-timeout:
			t.Fatalf("still running %s after the signal; stdout so far %q; stderr:\n%s", within, lines, p.stderr.String())
		}
	}
}

func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// SIGINT and SIGTERM: no new line is taken, the images in flight finish (or,
// at a second signal, are abandoned), every line read is answered, and the
// exit status says which signal it was.
func TestSignals(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)

	t.Run("idle", func(t *testing.T) {
		_, app1, _ := behindProxy(t)
		p := start(t, bin)
		fmt.Fprintln(p.stdin, "# first")
		if l := <-p.lines; l != "# first" {
			t.Fatalf("first line %q", l)
		}
		p.signal(t, syscall.SIGINT)
		lines, code := p.wait(t, 5*time.Second)
		fmt.Fprintln(p.stdin, app1) // too late: not taken
		if code != 130 || len(lines) != 0 {
			t.Errorf("exit %d, more lines %q; want 130 and none", code, lines)
		}
		if errs := p.stderr.String(); !strings.Contains(errs, "SIGINT: taking no new line") || !strings.Contains(errs, "rebased 0, up to date 0, skipped 0, failed 0") {
			t.Errorf("stderr:\n%s", errs)
		}
	})

	t.Run("finishes in flight", func(t *testing.T) {
		px, app1, app2 := behindProxy(t)
		px.Set(faultproxy.Config{Latency: 20 * time.Millisecond})
		px.ResetStats()
		p := start(t, bin, "-j", "1")
		fmt.Fprintln(p.stdin, app1)
		until(t, "the first request", func() bool { return px.Stats().Requests > 0 })
		p.signal(t, syscall.SIGINT)
		time.Sleep(50 * time.Millisecond)
		fmt.Fprintln(p.stdin, app2) // after the signal: not taken
		lines, code := p.wait(t, 8*time.Second)
		if code != 130 || len(lines) != 1 || !strings.HasPrefix(lines[0], strings.Split(app1, "@")[0]+"@sha256:") || lines[0] == app1 {
			t.Errorf("exit %d, lines %q; want 130 and app1 rebased\n%s", code, lines, p.stderr.String())
		}
		if errs := p.stderr.String(); !strings.Contains(errs, "rebased 1, up to date 0, skipped 0, failed 0") {
			t.Errorf("stderr:\n%s", errs)
		}
	})

	t.Run("abandons in flight at the second signal", func(t *testing.T) {
		px, app1, app2 := behindProxy(t)
		px.SetDown(true)
		px.ResetStats()
		p := start(t, bin, "-j", "1")
		fmt.Fprint(p.stdin, app1+"\n"+app2+"\n")
		until(t, "a hanging request", func() bool { return px.Stats().Hung > 0 })
		time.Sleep(50 * time.Millisecond) // app2 is read and waits for a job
		p.signal(t, syscall.SIGTERM)
		time.Sleep(200 * time.Millisecond)
		select {
		case l := <-p.lines:
			t.Fatalf("printed %q before the images in flight were abandoned", l)
		default:
		}
		p.signal(t, syscall.SIGTERM)
		lines, code := p.wait(t, 5*time.Second)
		if code != 143 || strings.Join(lines, "\n") != app1+"\n"+app2 {
			t.Errorf("exit %d, lines %q; want 143 and both lines echoed", code, lines)
		}
		errs := p.stderr.String()
		for _, want := range []string{
			"crane-rebase-stream: SIGTERM: abandoning the images in flight\n",
			"crane-rebase-stream: " + app1 + ": error: interrupted before the rebase finished\n",
			"crane-rebase-stream: " + app2 + ": error: interrupted before the rebase started\n",
			"crane-rebase-stream: rebased 0, up to date 0, skipped 0, failed 2\n",
		} {
			if !strings.Contains(errs, want) {
				t.Errorf("stderr lacks %q:\n%s", want, errs)
			}
		}
	})
}

// proxiedRegistry starts an in-memory registry behind a fault-injecting
// proxy (faults off) with an empty docker config, both closed with t.
func proxiedRegistry(t *testing.T) *faultproxy.Proxy {
	t.Helper()
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := rebasetest.NewRegistry()
	t.Cleanup(reg.Close)
	p, err := faultproxy.New(reg.Host, faultproxy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// A registry that asks to wait longer than --max-retry-wait: the line
// fails at once, the error naming the wait asked for and the flag that
// allows it; a negative --max-retry-wait is bad usage.
func TestMaxRetryWaitMessage(t *testing.T) {
	p, app1, _ := behindProxy(t)
	p.Set(faultproxy.Config{Throttle: &faultproxy.Throttle{RetryAfter: 90 * time.Second}})
	start := time.Now()
	code, out, errs := runCmd(t, app1+"\n", "--max-retry-wait", "30s")
	want := "crane-rebase-stream: " + app1 + ": error: image: " + p.Host + " asks to wait 1m30s before it is asked again (Retry-After), longer than the longest wait allowed (30s); --max-retry-wait allows a longer wait\n" +
		"crane-rebase-stream: rebased 0, up to date 0, skipped 0, failed 1\n"
	if code != 1 || out != app1+"\n" || errs != want {
		t.Errorf("exit %d, output %q, stderr\n%s\nwant exit 1, the line echoed, stderr\n%s", code, out, errs, want)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %s: it waited", took)
	}
	if _, _, errs := runCmd(t, "", "--max-retry-wait", "-1s"); errs != "crane-rebase-stream: --max-retry-wait must not be negative\n" {
		t.Errorf("negative: %q", errs)
	}
}
