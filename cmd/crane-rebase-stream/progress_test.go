package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rebasekit/rebasekit/internal/ptytest"
)

// On a terminal, the progress line counts N/TOTAL when the input is a file,
// and -v says one line per pushed image, as crane and ko log their pushes.
func TestProgressOnATerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	_, app1, app2, plain := setup(t)
	dir := t.TempDir()
	bin := ptytest.Build(t, "crane-rebase-stream")
	list := filepath.Join(dir, "images.txt")
	if err := os.WriteFile(list, []byte(app1+"\n"+app2+"\n"+plain+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ptmx, tty := ptytest.OpenT(t)
	cmd := exec.Command(bin, "-v", "-j", "1", list)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, tty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	var screen bytes.Buffer
	copied := make(chan struct{})
	go func() { io.Copy(&screen, ptmx); close(copied) }()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v; terminal:\n%s", err, screen.String())
	}
	<-copied // EIO once the terminal side is closed by the exited process
	s := screen.String()
	for _, want := range []string{
		"\r\x1b[K1/3: rebased 1, up to date 0, skipped 0, failed 0",
		"\r\x1b[K3/3: rebased 2, up to date 0, skipped 1, failed 0",
		"crane-rebase-stream: " + app1 + ": rebased -> ",
		"crane-rebase-stream: " + app2 + ": rebased -> ",
		"crane-rebase-stream: rebased 2, up to date 0, skipped 1, failed 0",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the terminal lacks %q:\n%q", want, s)
		}
	}
	if n := strings.Count(out.String(), "\n"); n != 3 {
		t.Errorf("stdout has %d lines, want 3", n)
	}
}
