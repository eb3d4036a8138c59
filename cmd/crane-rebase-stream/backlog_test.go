package main

import (
	"os"
	"path/filepath"
	"testing"
)

// The lines of a FILE are known from the start (blank and comment lines
// not counted), a shard's and stdin's only once the input has ended.
func TestBacklogLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "refs.txt")
	if err := os.WriteFile(path, []byte("a:v1\n\n  # c\nb:v1\n  c:v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b := newBacklog(path, false).counts(); b.Lines != 3 || b.Started != 0 || b.Done != 0 {
		t.Errorf("file: %+v, want 3 lines", b)
	}
	for _, b := range []*backlog{newBacklog(path, true), newBacklog("-", false), newBacklog("", false)} {
		if got := b.counts().Lines; got != -1 {
			t.Errorf("lines %d, want -1 (not known)", got)
		}
		b.ended(2)
		if got := b.counts().Lines; got != 2 {
			t.Errorf("lines %d after the end, want 2", got)
		}
	}
}
