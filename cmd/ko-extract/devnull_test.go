package main

import (
	"os"
	"os/exec"
	"testing"

	"github.com/rebasekit/rebasekit/internal/ptytest"
)

// Standard input on /dev/null (cron, CI) is a character device but no
// terminal: no "Ctrl-D ends it" hint.
func TestNoStdinHintOnDevNull(t *testing.T) {
	bin := ptytest.Build(t, "ko-extract")
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	cmd := exec.Command(bin)
	cmd.Stdin = null
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Errorf("err %v, output %q, want none", err, out)
	}
}

// A directory without -R under $KO_DOCKER_REPO: the -R hint alone. The
// prefix selects nothing in the files walked, but likely in those not
// walked, so "$KO_DOCKER_REPO selects nothing" would mislead.
func TestDirectoryWithoutRecursiveNoUnusedPrefixWarning(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.yaml", "image: docker.io/library/nginx:1.27\n")
	write(t, dir, "apps/b.yaml", "image: ghcr.io/acme/b:1\n")
	out, errs, err := extract(t, "ghcr.io/acme", "-f", dir)
	want := "ko-extract: warning: " + dir + ": 1 subdirectory with 1 YAML file not walked; give -R to walk them\n"
	if err != nil || out != "" || errs != want {
		t.Errorf("err %v, stdout %q, stderr %q\nwant %q", err, out, errs, want)
	}
	// With -R the prefix selects b; a prefix that selects nothing in the
	// whole tree is still said.
	if out, errs, _ := extract(t, "ghcr.io/acmee", "-R", "-f", dir); out != "" || errs == "" {
		t.Errorf("-R, a typo: stdout %q, stderr %q, want the unused-prefix warning", out, errs)
	}
}
