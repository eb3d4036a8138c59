package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCreateNewAndReplace(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "s.md")
	if err := CheckWritable(p); err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{"one\n", "two\n"} {
		if err := Create(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		fi, _ := os.Stat(p)
		if err != nil || string(b) != body || fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: %q %v %v, want %q 0644", p, b, fi.Mode(), err, body)
		}
	}
	if es, _ := os.ReadDir(dir); len(es) != 1 {
		t.Errorf("%d files in %s, want the one: no temporary file left", len(es), dir)
	}
}

func TestCheckWritableNamesThePath(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "no", "s.md")
	want := "cannot create " + p + ": " + filepath.Join(dir, "no") + ": no such file or directory"
	if err := CheckWritable(p); err == nil || err.Error() != want {
		t.Errorf("CheckWritable: %v\nwant %s", err, want)
	}
	if err := Create(p, []byte("x"), 0o644); err == nil || err.Error() != want {
		t.Errorf("Create: %v\nwant %s", err, want)
	}
}
