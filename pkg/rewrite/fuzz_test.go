package rewrite_test

import (
	"strings"
	"testing"

	"github.com/rebasekit/rebasekit/pkg/refs"
	"github.com/rebasekit/rebasekit/pkg/rewrite"
)

// FuzzParseImages: the images-stream parser never panics, and whatever it
// accepts is made of valid references in one form.
func FuzzParseImages(f *testing.F) {
	for _, s := range []string{
		"ghcr.io/a/b@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n\nnginx:1\n",
		"a:1 b:1\nc:1 d:1\n",
		"# comment\n  x:1  \r\n",
		"a b c\n",
		"a:1 b:1\nc:1\n",
		"\ufeffnginx:1\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		img, err := rewrite.ParseImages(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, l := range img.Lines {
			if img.Pairs && l.Old == "" || !img.Pairs && l.Old != "" {
				t.Fatalf("both forms: %+v", img)
			}
			if !img.Pairs && !refs.Valid(l.New) {
				t.Fatalf("accepted %q", l.New)
			}
			if img.Pairs && (!refs.Valid(l.Old) || !refs.Valid(l.New)) {
				t.Fatalf("accepted %q %q", l.Old, l.New)
			}
		}
	})
}
