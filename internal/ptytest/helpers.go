package ptytest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Build builds the command in the current directory (a cmd/ package's
// test) as name in a temporary directory and returns its path. It skips
// the test under -short.
func Build(t testing.TB, name string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := filepath.Join(t.TempDir(), name)
	if b, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return bin
}

// OpenT is Open for a test: it skips the test where there is no
// pseudo-terminal, and closes both sides when the test ends.
func OpenT(t testing.TB) (ptmx, tty *os.File) {
	t.Helper()
	ptmx, tty, err := Open()
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	t.Cleanup(func() { ptmx.Close(); tty.Close() })
	return ptmx, tty
}
