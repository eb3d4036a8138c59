package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/rebasekit/rebasekit/internal/cmdline"
	"github.com/rebasekit/rebasekit/internal/ptytest"
)

// Usage errors exit 2 (as crane-rebase-stream's do); input errors exit 1.
func TestExitStatuses(t *testing.T) {
	dir := t.TempDir()
	bad := write(t, dir, "bad.yaml", "a: [\n")
	for _, tc := range []struct {
		args []string
		msg  string
		code int
	}{
		{[]string{"--dryrun"}, "unknown flag --dryrun (see --help)", 2},
		{[]string{"--prefx", "ghcr.io/a"}, "unknown flag --prefx: did you mean --prefix? (see --help)", 2},
		{[]string{"--no_dedupe"}, "unknown flag --no_dedupe: did you mean --no-dedupe? (see --help)", 2},
		{[]string{"release.yaml"}, `unexpected argument "release.yaml": give inputs with -f`, 2},
		{[]string{"-o", "yaml"}, `--output "yaml": want text or json`, 2},
		{[]string{"--all", "--prefix", "ghcr.io/a"}, "--all and --prefix contradict each other: --all selects without prefixes", 2},
		{[]string{"-f", bad}, bad + ":1:1: did not find expected node content", 1},
		{[]string{"-f", filepath.Join(dir, "gone.yaml")}, "stat " + filepath.Join(dir, "gone.yaml") + ": no such file or directory", 1},
	} {
		out, _, err := extract(t, "", tc.args...)
		if err == nil || err.Error() != tc.msg || cmdline.Status(err) != tc.code || out != "" {
			t.Errorf("%v: stdout %q, err %v (exit %d)\nwant %q, exit %d", tc.args, out, err, cmdline.Status(err), tc.msg, tc.code)
		}
	}
}

// `help` and `version` as the only argument are --help and --version; -v
// is --verbose, --version is long only.
func TestHelpVersionWordsAndVerbose(t *testing.T) {
	for _, w := range []string{"help", "version"} {
		out1, _, err1 := extract(t, "", "--"+w)
		a := app()
		out2, _, err2 := runApp(t, a, cmdline.HelpVersionWords([]string{"ko-extract", w}))
		if err1 != nil || err2 != nil || out1 != out2 || out1 == "" {
			t.Errorf("%s: %q %v; --%s: %q %v", w, out2, err2, w, out1, err1)
		}
	}
	dir := t.TempDir()
	f := write(t, dir, "r.yaml", "image: ghcr.io/acme/a:1\nx: ghcr.io/acme/b@"+dA+"\ny: ghcr.io/acme/a:1\n")
	out, errs, err := extract(t, "", "-v", "-f", f)
	wantErr := "ko-extract: " + f + ":1:8: key: ghcr.io/acme/a:1\n" +
		"ko-extract: " + f + ":2:4: pinned: ghcr.io/acme/b@" + dA + "\n"
	if err != nil || out != "ghcr.io/acme/a:1\nghcr.io/acme/b@"+dA+"\n" || errs != wantErr {
		t.Errorf("-v: err %v\nstdout %q\nstderr %q\nwant stderr %q", err, out, errs, wantErr)
	}
}

// A directory without -R: the subdirectories -R would walk are counted.
func TestDirectoryWithoutRecursiveSaysWhatIsLeft(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.yaml", "image: ghcr.io/acme/a:1\n")
	write(t, dir, "base/b.yaml", "image: ghcr.io/acme/b:1\n")
	write(t, dir, "base/deeper/c.yml", "image: ghcr.io/acme/c:1\n")
	write(t, dir, "overlays/prod/d.json", `{"image": "ghcr.io/acme/d:1"}`)
	write(t, dir, "docs/readme.md", "image: ghcr.io/acme/e:1\n")
	out, errs, err := extract(t, "", "-f", dir)
	want := "ko-extract: warning: " + dir + ": 2 subdirectories with 3 YAML files not walked; give -R to walk them\n"
	if err != nil || out != "ghcr.io/acme/a:1\n" || errs != want {
		t.Errorf("err %v, stdout %q, stderr %q\nwant %q", err, out, errs, want)
	}
	if _, errs, _ := extract(t, "", "-R", "-f", dir); errs != "" {
		t.Errorf("-R: stderr %q, want nothing", errs)
	}
	flat := t.TempDir()
	write(t, flat, "a.yaml", "image: ghcr.io/acme/a:1\n")
	write(t, flat, "docs/readme.md", "x\n")
	if _, errs, _ := extract(t, "", "-f", flat); errs != "" {
		t.Errorf("no YAML below: stderr %q, want nothing", errs)
	}
}

// On a terminal with no -f, stderr says YAML is read from standard input;
// Ctrl-D ends it.
func TestTerminalStdinHint(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := ptytest.Build(t, "ko-extract")
	ptmx, tty := ptytest.OpenT(t)
	cmd := exec.Command(bin)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		ptmx.Write([]byte("image: ghcr.io/acme/a:1\n"))
		for range 50 {
			ptmx.Write([]byte{4}) // Ctrl-D at the start of a line
			time.Sleep(100 * time.Millisecond)
		}
	}()
	err := cmd.Wait()
	want := "ko-extract: reading YAML from standard input (Ctrl-D ends it; -f FILE reads a file)\n"
	if err != nil || out.String() != "ghcr.io/acme/a:1\n" || errb.String() != want {
		t.Errorf("err %v, stdout %q, stderr %q\nwant %q", err, out.String(), errb.String(), want)
	}
}
