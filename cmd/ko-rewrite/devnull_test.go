package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/rebasekit/rebasekit/internal/ptytest"
)

// --images - on /dev/null (cron, CI) is a character device but no
// terminal: no "Ctrl-D ends it" hint.
func TestNoStdinHintOnDevNull(t *testing.T) {
	bin := ptytest.Build(t, "ko-rewrite")
	yaml := filepath.Join(t.TempDir(), "a.yaml")
	if err := os.WriteFile(yaml, []byte("a: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	cmd := exec.Command(bin, "-f", yaml, "--images", "-")
	cmd.Stdin = null
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "a: 1\n" {
		t.Errorf("err %v, output %q, want the file alone", err, out)
	}
}
