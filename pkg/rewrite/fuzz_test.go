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
		if img.Pairs && len(img.New) > 0 || !img.Pairs && len(img.Map) > 0 {
			t.Fatalf("both forms: %+v", img)
		}
		for _, r := range img.New {
			if !refs.Valid(r) {
				t.Fatalf("accepted %q", r)
			}
		}
		for o, n := range img.Map {
			if !refs.Valid(o) || !refs.Valid(n) {
				t.Fatalf("accepted %q %q", o, n)
			}
		}
	})
}
