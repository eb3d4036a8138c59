//go:build unix

package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rebasekit/rebasekit/internal/ptytest"
)

// pipeline is `ko-extract -f release.yaml | crane-rebase-stream - |
// ko-rewrite -f release.yaml --images -` in one process group, as a shell
// runs it in the foreground: Ctrl-C sends SIGINT to the whole group.
type pipeline struct {
	cmds   [3]*exec.Cmd // ko-extract, crane-rebase-stream, ko-rewrite
	stderr *syncBuffer  // crane-rebase-stream's, unless given
}

// startPipeline starts the pipeline on yaml with crane-rebase-stream's
// stderr on errw (nil: a buffer) and its stdout's reader, ko-rewrite,
// replaced by reader when not nil.
func startPipeline(t *testing.T, bins map[string]string, yaml string, errw io.Writer) *pipeline {
	t.Helper()
	p := &pipeline{stderr: &syncBuffer{}}
	if errw == nil {
		errw = p.stderr
	}
	p.cmds[0] = exec.Command(bins["ko-extract"], "-f", yaml)
	p.cmds[1] = exec.Command(bins["crane-rebase-stream"], "-")
	p.cmds[2] = exec.Command(bins["ko-rewrite"], "-f", yaml, "--images", "-")
	r1, w1, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r2, w2, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmds[0].Stdout, p.cmds[1].Stdin = w1, r1
	p.cmds[1].Stdout, p.cmds[2].Stdin = w2, r2
	p.cmds[1].Stderr = errw
	// crane-rebase-stream leads the group: it outlives the others.
	for i, c := range []*exec.Cmd{p.cmds[1], p.cmds[0], p.cmds[2]} {
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if i > 0 {
			c.SysProcAttr.Pgid = p.cmds[1].Process.Pid
		}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []*os.File{r1, w1, r2, w2} {
		f.Close()
	}
	t.Cleanup(func() {
		syscall.Kill(-p.cmds[1].Process.Pid, syscall.SIGKILL)
	})
	return p
}

// wait returns the exit status of each command, failing the test if they
// have not all ended within d.
func (p *pipeline) wait(t *testing.T, d time.Duration) [3]int {
	t.Helper()
	var codes [3]int
	var wg sync.WaitGroup
	for i, c := range p.cmds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ee *exec.ExitError
			if err := c.Wait(); err != nil && !errors.As(err, &ee) {
				t.Error(err)
			}
			codes[i] = c.ProcessState.ExitCode()
			if ws, ok := c.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				codes[i] = 128 + int(ws.Signal())
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("the pipeline has not ended %s after the signal", d)
	}
	return codes
}

// Ctrl-C on the whole pipeline while an image is in flight: ko-rewrite
// stops at once, so nobody can take crane-rebase-stream's answers; it
// abandons the image at once (not after the 10 s grace), says its summary
// and exits 130, not 141 of SIGPIPE. On a terminal its SIGINT message starts
// on a line of its own, not after the ^C the terminal echoed or the
// progress line.
func TestPipelineCtrlC(t *testing.T) {
	bins := map[string]string{"crane-rebase-stream": ptytest.Build(t, "crane-rebase-stream")}
	dir := t.TempDir()
	for _, tool := range []string{"ko-extract", "ko-rewrite"} {
		bins[tool] = filepath.Join(dir, tool)
		if b, err := exec.Command("go", "build", "-o", bins[tool], "../"+tool).CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, b)
		}
	}
	px, app1, app2 := behindProxy(t)
	yaml := filepath.Join(dir, "release.yaml")
	if err := os.WriteFile(yaml, []byte("image: "+app1+"\n---\nimage: "+app2+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	run := func(t *testing.T, errw io.Writer, stderr func() string) {
		px.SetDown(true) // accepts, never answers: the image stays in flight
		px.ResetStats()
		p := startPipeline(t, bins, yaml, errw)
		until(t, "a hanging request", func() bool { return px.Stats().Hung > 0 })
		start := time.Now()
		if err := syscall.Kill(-p.cmds[1].Process.Pid, syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		codes := p.wait(t, 10*time.Second)
		took := time.Since(start)
		t.Logf("exit %v in %s", codes, took.Round(time.Millisecond))
		if codes[1] != 130 || codes[2] != 130 {
			t.Errorf("crane-rebase-stream exit %d, ko-rewrite exit %d; want 130 for both\n%s", codes[1], codes[2], stderr())
		}
		if took > 5*time.Second {
			t.Errorf("crane-rebase-stream took %s after Ctrl-C, want it to abandon the image in flight at once", took)
		}
		errs := stderr()
		for _, want := range []string{
			"crane-rebase-stream: standard output's reader is gone (the next command of the pipeline ended): abandoning the images in flight\n",
			"crane-rebase-stream: rebased 0, up to date 0, skipped 0, failed 2\n",
			"crane-rebase-stream: interrupted: standard output's reader is gone: the lines not answered were not rebased, or their rebased images are pushed but named by nothing; run again\n",
		} {
			if !strings.Contains(errs, want) {
				t.Errorf("stderr lacks %q:\n%s", want, errs)
			}
		}
	}

	t.Run("stderr a pipe", func(t *testing.T) {
		var buf syncBuffer
		run(t, &buf, buf.String)
	})

	t.Run("stderr a terminal", func(t *testing.T) {
		ptmx, tty := ptytest.OpenT(t)
		var buf syncBuffer
		go io.Copy(&buf, ptmx)
		// The terminal writes \r\n for \n; read it back as written.
		text := func() string { return strings.ReplaceAll(buf.String(), "\r\n", "\n") }
		run(t, tty, func() string { time.Sleep(100 * time.Millisecond); return text() })
		errs := text()
		i := strings.Index(errs, "crane-rebase-stream: SIGINT: taking no new line")
		if i < 0 || i == 0 || errs[i-1] != '\n' {
			t.Errorf("the SIGINT message does not start a line of its own:\n%q", errs)
		}
	})
}

// The reader of stdout gone without a signal (`| head -1`, a consumer
// that died): the images in flight are abandoned at once, the summary is
// said, and the status is 141, the shell's for a command whose reader went
// away.
func TestReaderGone(t *testing.T) {
	bin := ptytest.Build(t, "crane-rebase-stream")
	px, app1, _ := behindProxy(t)
	px.SetDown(true)
	cmd := exec.Command(bin, "-")
	cmd.Stdin = strings.NewReader(app1 + "\n")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = w, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() { cmd.Process.Kill() })
	until(t, "a hanging request", func() bool { return px.Stats().Hung > 0 })
	start := time.Now()
	r.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("crane-rebase-stream still runs 10 s after its reader left")
	}
	took := time.Since(start)
	if code := cmd.ProcessState.ExitCode(); code != 141 || took > 5*time.Second {
		t.Errorf("exit %d after %s; want 141 at once\n%s", code, took, &stderr)
	}
	want := "crane-rebase-stream: standard output's reader is gone (the next command of the pipeline ended): abandoning the images in flight\n" +
		"crane-rebase-stream: " + app1 + ": error: interrupted before the rebase finished\n" +
		"crane-rebase-stream: rebased 0, up to date 0, skipped 0, failed 1\n" +
		"crane-rebase-stream: standard output's reader is gone: the lines not answered were not rebased, or their rebased images are pushed but named by nothing; run again\n"
	if got := stderr.String(); got != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", got, want)
	}
}
