package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMakeInstall runs `make install` into a fresh GOBIN and PREFIX, as a
// user would, and checks what it installed: the three binaries print the
// version they were stamped with, each has a man page and bash, zsh and
// fish completions, and the bash completion completes a flag.
func TestMakeInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs make install")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make on PATH")
	}
	root := moduleRoot(t)
	dir := t.TempDir()
	gobin, prefix := filepath.Join(dir, "bin"), filepath.Join(dir, "prefix")
	const version = "v0.0.0-install-test"
	cmd := exec.Command("make", "install", "GOBIN="+gobin, "PREFIX="+prefix, "VERSION="+version)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	for _, tool := range []string{"ko-extract", "crane-rebase-stream", "ko-rewrite"} {
		out, err := exec.Command(filepath.Join(gobin, tool), "--version").Output()
		if err != nil || string(out) != tool+" version "+version+"\n" {
			t.Errorf("%s --version: %q %v", tool, out, err)
		}
		man := readFile(t, filepath.Join(prefix, "share", "man", "man1", tool+".1"))
		if !strings.HasPrefix(man, ".nh\n.TH "+tool+" 1\n") || !strings.Contains(man, "EXIT STATUS") || !strings.Contains(man, "--verbose") || strings.Contains(man, "generate-man-page") {
			t.Errorf("%s.1 is not its man page (or shows the hidden flags):\n%.400s", tool, man)
		}
		if man, err := exec.Command("man", "-l", "-P", "cat", filepath.Join(prefix, "share", "man", "man1", tool+".1")).Output(); err == nil {
			if !strings.Contains(string(man), "SYNOPSIS") {
				t.Errorf("man -l %s.1 does not render a SYNOPSIS:\n%s", tool, man)
			}
		}
		if z := readFile(t, filepath.Join(prefix, "share", "zsh", "site-functions", "_"+tool)); !strings.HasPrefix(z, "#compdef "+tool+"\n") {
			t.Errorf("_%s: %.100q", tool, z)
		}
		if f := readFile(t, filepath.Join(prefix, "share", "fish", "vendor_completions.d", tool+".fish")); !strings.Contains(f, "complete -c "+tool+" ") || !strings.Contains(f, "-l verbose -s v") {
			t.Errorf("%s.fish lacks --verbose:\n%.400s", tool, f)
		}
	}
	// Bash: what the shell gets for `crane-rebase-stream --dry<TAB>`.
	script := `source "$1"; COMP_WORDS=(crane-rebase-stream --dry); COMP_CWORD=1; _crane-rebase-stream_complete; printf '%s\n' "${COMPREPLY[@]}"`
	c := exec.Command("bash", "-c", script, "bash", filepath.Join(prefix, "share", "bash-completion", "completions", "crane-rebase-stream"))
	c.Env = append(os.Environ(), "PATH="+gobin+string(os.PathListSeparator)+os.Getenv("PATH"))
	if out, err := c.Output(); err != nil || string(out) != "--dry-run\n" {
		t.Errorf("bash completion of --dry: %q %v, want --dry-run", out, err)
	}
}

// moduleRoot is the rebasekit module's directory (suite.root without the
// suite, which this test does not need).
func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}
