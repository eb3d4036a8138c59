package inputs_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/rebasekit/rebasekit/internal/inputs"
)

// TestReadToEOF: a file that reports size 0 (procfs, FUSE) is read whole,
// not cut to its reported size.
func TestReadToEOF(t *testing.T) {
	const p = "/proc/self/status"
	fi, err := os.Stat(p)
	if err != nil || fi.Size() != 0 {
		t.Skipf("%s: no procfs file of reported size 0 here (%v)", p, err)
	}
	b, err := inputs.Input{Name: p, Real: p}.Read(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("Name:")) || !bytes.HasSuffix(b, []byte("\n")) {
		t.Fatalf("read %d bytes: %q", len(b), b)
	}
}

// TestReadRegularFile: a regular file is read byte for byte.
func TestReadRegularFile(t *testing.T) {
	p := t.TempDir() + "/a.yaml"
	want := bytes.Repeat([]byte("image: nginx:1\n"), 1000)
	if err := os.WriteFile(p, want, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := inputs.Input{Name: p, Real: p}.Read(nil)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, err %v; want %d", len(got), err, len(want))
	}
}
