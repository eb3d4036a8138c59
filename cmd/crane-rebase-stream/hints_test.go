package main

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/rebasekit/rebasekit/internal/ptytest"
)

// crane's habit, `crane-rebase-stream REF`: the argument is a file name, and
// the error says how to give a reference instead.
func TestReferenceGivenAsFile(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, tc := range []struct{ arg, want string }{
		{"ghcr.io/acme/app:v1", "crane-rebase-stream: open ghcr.io/acme/app:v1: no such file or directory; if ghcr.io/acme/app:v1 is an image, give it on standard input: echo ghcr.io/acme/app:v1 | crane-rebase-stream -\n"},
		{"images.txt", "crane-rebase-stream: open images.txt: no such file or directory\n"},
	} {
		code, out, errs := runCmd(t, "", tc.arg)
		if code != 2 || out != "" || errs != tc.want {
			t.Errorf("%s: exit %d, stdout %q, stderr %q\nwant exit 2 and %q", tc.arg, code, out, errs, tc.want)
		}
	}
}

// `help` and `version` as the only argument are --help and --version; a
// file so named is read as ./help.
func TestHelpAndVersionWords(t *testing.T) {
	for _, w := range []string{"help", "version"} {
		code1, out1, err1 := runCmd(t, "", "--"+w)
		code2, out2, err2 := runCmd(t, "", w)
		if code1 != 0 || code2 != 0 || out1 != out2 || err1 != err2 || out1 == "" {
			t.Errorf("%s: exit %d, stdout %q; --%s: exit %d, stdout %q", w, code2, out2, w, code1, out1)
		}
	}
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile("help", []byte("# a comment\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := runCmd(t, "", "./help"); code != 0 || out != "# a comment\n" {
		t.Errorf("./help: exit %d, stdout %q: want the file read", code, out)
	}
}

// Mistyped flags get a suggestion; a duration without a unit says what a
// duration looks like. All exit 2, before any work.
func TestUsageErrorsSayWhatToDo(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--dryrun"}, "crane-rebase-stream: unknown flag --dryrun: did you mean --dry-run? (see --help)\n"},
		{[]string{"--old_base", "x"}, "crane-rebase-stream: unknown flag --old_base: did you mean --old-base? (see --help)\n"},
		{[]string{"--stirct"}, "crane-rebase-stream: unknown flag --stirct: did you mean --strict? (see --help)\n"},
		{[]string{"--frobnicate"}, "crane-rebase-stream: unknown flag --frobnicate (see --help)\n"},
		{[]string{"--timeout", "10"}, "crane-rebase-stream: --timeout \"10\" is not a duration: give a number with a unit, like 30s, 10m or 1h30m (see --help)\n"},
		{[]string{"-j", "many"}, "crane-rebase-stream: -j \"many\" is not a whole number (see --help)\n"},
		{[]string{"--report"}, "crane-rebase-stream: --report needs a value (see --help)\n"},
	} {
		code, out, errs := runCmd(t, "ghcr.io/acme/app:1\n", tc.args...)
		if code != 2 || out != "" || errs != tc.want {
			t.Errorf("%v: exit %d, stdout %q, stderr %q\nwant exit 2 and %q", tc.args, code, out, errs, tc.want)
		}
	}
}

// YAML piped in by mistake draws one hint, not a line for each line; every
// line is still echoed and counted as failed.
func TestYAMLOnStdinDrawsOneHint(t *testing.T) {
	in := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n---\nspec:\n  - image: nginx\n"
	code, out, errs := runCmd(t, in, "-")
	want := `crane-rebase-stream: line 1: "apiVersion: apps/v1": this looks like YAML, not image references: run ko-extract first (ko-extract -f FILE | crane-rebase-stream -); lines that are not references are echoed unchanged
crane-rebase-stream: rebased 0, up to date 0, skipped 0, failed 7
`
	if code != 1 || out != in || errs != want {
		t.Errorf("exit %d\nstdout %q\nstderr %q\nwant exit 1, the input echoed and\n%q", code, out, errs, want)
	}
}

// An unreachable registry is said in one line, not as Go's joined https and
// http errors; -v adds them.
func TestUnreachableRegistry(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := l.Addr().String()
	l.Close() // nothing listens there now: connection refused
	ref := host + "/app:v1"
	code, out, errs := runCmd(t, ref+"\n", "-")
	want := "crane-rebase-stream: " + ref + ": error: registry " + host + " unreachable: connection refused (-v for details)\n" +
		"crane-rebase-stream: rebased 0, up to date 0, skipped 0, failed 1\n"
	if code != 1 || out != ref+"\n" || errs != want {
		t.Errorf("exit %d, stdout %q\nstderr %q\nwant exit 1, the line echoed and\n%q", code, out, errs, want)
	}
	_, _, errs = runCmd(t, ref+"\n", "-v", "-")
	for _, w := range []string{
		"crane-rebase-stream: " + ref + ": error: registry " + host + " unreachable: connection refused\n",
		"crane-rebase-stream: " + ref + ":   details: ",
		"connect: connection refused",
	} {
		if !strings.Contains(errs, w) {
			t.Errorf("-v stderr lacks %q:\n%s", w, errs)
		}
	}
}

// On a terminal with nothing typed, stderr says where the references are
// read from; Ctrl-D ends the input.
func TestTerminalStdinHint(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := ptytest.Build(t, "crane-rebase-stream")
	ptmx, tty := ptytest.OpenT(t)
	cmd := exec.Command(bin)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, &out, &errb
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		// Ctrl-D at the start of a line ends the input, as typed.
		for range 50 {
			ptmx.Write([]byte{4})
			time.Sleep(100 * time.Millisecond)
		}
	}()
	err := cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	want := "crane-rebase-stream: reading image references from standard input, one a line (Ctrl-D ends it; see --help)\n" +
		"crane-rebase-stream: rebased 0, up to date 0, skipped 0, failed 0\n"
	if cmd.ProcessState.ExitCode() != 0 || out.String() != "" || errb.String() != want {
		t.Errorf("exit %d, stdout %q, stderr %q\nwant exit 0 and %q", cmd.ProcessState.ExitCode(), out.String(), errb.String(), want)
	}
}
