package yamlwalk_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/rebasekit/rebasekit/pkg/rewrite"
	"github.com/rebasekit/rebasekit/pkg/yamlwalk"
)

// FuzzWalkRoundTrip: any input either errors or round-trips byte-identical
// under an identity rewrite; a real rewrite changes only span bytes and
// verifies. Seeds: testdata/fuzz/FuzzWalkRoundTrip and testdata/walk.
func FuzzWalkRoundTrip(f *testing.F) {
	ins, _ := filepath.Glob("../../testdata/walk/*.yaml")
	for _, in := range ins {
		if b, err := os.ReadFile(in); err == nil {
			f.Add(b, false)
			f.Add(b, true)
		}
	}
	f.Fuzz(func(t *testing.T, src []byte, prefix bool) {
		w := &yamlwalk.Walker{}
		if prefix {
			// Docker Hub's library (short names, host:port near misses), an
			// official image's name, and a registry of sha: maps too.
			w.Prefixes = []string{"gcr.io/a", "ghcr.io/acme", "docker.io/library", "mariadb", "quay.io/prometheus"}
			// Both readings of mariadb: a prefix a user names (the
			// official image too) and $KO_DOCKER_REPO's (the namespace).
			w.OfficialImages = len(src)%2 == 0
		}
		occs, docStarts, err := w.CollectDocs("fuzz.yaml", src)
		if err != nil {
			return
		}
		for _, o := range occs {
			for _, p := range o.Parts {
				if string(src[p.Span.Start:p.Span.End]) != p.Text {
					t.Fatalf("part %s span %v holds %q, want %q", p.Field, p.Span, src[p.Span.Start:p.Span.End], p.Text)
				}
			}
			if o.Parts == nil && string(src[o.Span.Start:o.Span.End]) != o.Ref {
				t.Fatalf("span %v holds %q, want %q", o.Span, src[o.Span.Start:o.Span.End], o.Ref)
			}
		}
		if s := spliceAll(t, src, occs, identity); !bytes.Equal(s.Out, src) {
			t.Fatalf("identity rewrite changed the input")
		}
		s := spliceAll(t, src, occs, fakeNew)
		// A rewrite may be refused (the verifier's job), but when the
		// per-document check passes, a walk of the whole output agrees.
		if err := rewrite.Verify(w, "fuzz.yaml", s, occs, docStarts); err != nil {
			return
		}
		if err := rewrite.Verify(w, "fuzz.yaml", s, occs, nil); err != nil {
			t.Fatalf("per-document verification passed but the whole output fails: %v", err)
		}
	})
}
