package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rebasekit/rebasekit/internal/cmdline"
	"github.com/rebasekit/rebasekit/internal/ptytest"
)

// Usage errors exit 2; refusals exit 1.
func TestExitStatuses(t *testing.T) {
	dir := t.TempDir()
	rel := write(t, dir, "release.yaml", release)
	imgs := write(t, dir, "images.txt", "ghcr.io/acme/app@"+dC+"\n")
	for _, tc := range []struct {
		args []string
		msg  string
		code int
	}{
		{[]string{"-f", rel, "--image", imgs}, "unknown flag --image: did you mean --images? (see --help)", 2},
		{[]string{"-f", rel, "--in_place", "--images", imgs}, "unknown flag --in_place: did you mean --in-place? (see --help)", 2},
		{[]string{"-f", rel}, "--images FILE|- is required: the replacement stream (see --help)", 2},
		{[]string{"-f", rel, "-f", imgs, "--images", imgs}, "2 input files: use -i to rewrite them in place (stdout takes one)", 2},
		{[]string{"-f", rel, "--images", imgs}, "the images stream has 1 reference(s) but the input selects 3: the streams are not aligned", 1},
	} {
		out, _, err := kr(t, tc.args...)
		if err == nil || !strings.HasPrefix(err.Error(), tc.msg) || cmdline.Status(err) != tc.code || out != "" {
			t.Errorf("%v: stdout %q, err %v (exit %d)\nwant %q, exit %d", tc.args, out, err, cmdline.Status(err), tc.msg, tc.code)
		}
	}
}

// `help` and `version` are --help and --version; -v prints each selection
// with its replacement on stderr.
func TestHelpVersionWordsAndVerbose(t *testing.T) {
	for _, w := range []string{"help", "version"} {
		out1, _, err1 := kr(t, "--"+w)
		a := app()
		var out2 bytes.Buffer
		a.Writer, a.ErrWriter = &out2, &out2
		err2 := a.Run(cmdline.HelpVersionWords([]string{"ko-rewrite", w}))
		if err1 != nil || err2 != nil || out1 != out2.String() || out1 == "" {
			t.Errorf("%s: %q %v; --%s: %q %v", w, out2.String(), err2, w, out1, err1)
		}
	}
	dir := t.TempDir()
	rel := write(t, dir, "release.yaml", release)
	imgs := write(t, dir, "images.txt", "ghcr.io/acme/app@"+dA+" ghcr.io/acme/app@"+dC+"\n")
	_, errs, err := kr(t, "-v", "-f", rel, "--images", imgs)
	want := "ko-rewrite: " + rel + ":8:16: key: ghcr.io/acme/app@" + dA + " -> ghcr.io/acme/app@" + dC + "\n" +
		"ko-rewrite: " + rel + ":9:29: pinned: ghcr.io/acme/side@" + dB + " -> ghcr.io/acme/side@" + dB + " (kept)\n" +
		"ko-rewrite: " + rel + ":10:17: key: ghcr.io/acme/app@" + dA + " -> ghcr.io/acme/app@" + dC + "\n" +
		"ko-rewrite: " + rel + ":15:26: key: docker.io/library/redis:7 -> docker.io/library/redis:7 (kept)\n"
	if err != nil || errs != want {
		t.Errorf("-v: err %v\nstderr %q\nwant   %q", err, errs, want)
	}
}

// ko-rewrite waiting for --images - (or the YAML, -f -) on a terminal: it
// says so, and Ctrl-C ends it at once (exit 130), writing nothing.
func TestImagesFromTerminalEndsOnCtrlC(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := ptytest.Build(t, "ko-rewrite")
	rel := write(t, dir, "release.yaml", release)
	ptmx, tty := ptytest.OpenT(t)
	imgs := write(t, dir, "images.txt", "ghcr.io/acme/app@"+dC+"\n")
	imagesPrompt := "ko-rewrite: reading the --images stream from standard input, one reference a line (Ctrl-D ends it, Ctrl-C cancels: nothing is written)\n"
	yamlPrompt := "ko-rewrite: reading YAML from standard input (Ctrl-D ends it; -f FILE reads a file)\n"
	for _, tc := range []struct {
		args   []string
		prompt string
	}{
		{[]string{"-f", rel, "--images", "-"}, imagesPrompt},
		{[]string{"-f", rel, "--images", "-", "-i"}, imagesPrompt},
		{[]string{"-f", "-", "--images", imgs}, yamlPrompt},
	} {
		args := tc.args
		cmd := exec.Command(bin, args...)
		var out bytes.Buffer
		errR, errW, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, &out, errW
		// The terminal is the process's controlling terminal, so Ctrl-C
		// typed on it is the kernel's SIGINT, as in a shell.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		errW.Close()
		// Wait for the prompt, so Ctrl-C comes when a person would type it.
		var errb bytes.Buffer
		prompted := make(chan struct{})
		stderrDone := make(chan struct{})
		go func() {
			defer close(stderrDone)
			buf := make([]byte, 4096)
			once := false
			for {
				n, err := errR.Read(buf)
				errb.Write(buf[:n])
				if !once && strings.Contains(errb.String(), "standard input") {
					once = true
					close(prompted)
				}
				if err != nil {
					return
				}
			}
		}()
		select {
		case <-prompted:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("%v: no prompt on stderr", args)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var werr error
	wait:
		for range 100 {
			ptmx.Write([]byte{3}) // Ctrl-C
			select {
			case werr = <-done:
				break wait
			case <-time.After(100 * time.Millisecond):
			}
		}
		if werr == nil && cmd.ProcessState == nil {
			cmd.Process.Kill()
			t.Fatalf("%v: still running after Ctrl-C; stderr %q", args, errb.String())
		}
		<-stderrDone
		errR.Close()
		var ee *exec.ExitError
		if !errors.As(werr, &ee) {
			t.Fatalf("%v: %v", args, werr)
		}
		want := tc.prompt + "ko-rewrite: interrupted (SIGINT); nothing written\n"
		if ee.ExitCode() != 130 || out.Len() != 0 || errb.String() != want {
			t.Errorf("%v: exit %d, stdout %q, stderr %q\nwant exit 130, nothing on stdout and %q", args, ee.ExitCode(), out.String(), errb.String(), want)
		}
		if b, err := os.ReadFile(rel); err != nil || string(b) != release {
			t.Errorf("%v: release.yaml changed (%v)", args, err)
		}
	}
}
