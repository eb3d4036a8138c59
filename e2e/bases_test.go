package e2e

import (
	"os"
	"path/filepath"
	"testing"
)

// TestBaseShapes rebases apps ko built on bases of other shapes:
//   - legacy, on a Docker manifest list with Docker schema 2 images: the
//     rebased image must stay Docker (manifest, config and layer types);
//   - tool, on a base index written by go-containerregistry's
//     mutate.AppendManifests (`crane index append`), whose children carry an
//     artifactType equal to their config media type: they are still the
//     platform images of the base.
func TestBaseShapes(t *testing.T) {
	need(t)
	for _, s := range suite.shaped {
		t.Run(s.shape.String(), func(t *testing.T) {
			dir := t.TempDir()
			input := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + s.app + "\nspec:\n  containers:\n    - name: " + s.app + "\n      image: " + s.ref + "\n"
			if err := os.WriteFile(filepath.Join(dir, "pod.yaml"), []byte(input), 0o644); err != nil {
				t.Fatal(err)
			}
			p := shell(t, dir, "ko-extract -f pod.yaml | crane-rebase-stream - | ko-rewrite -f pod.yaml --images - > rebased.yaml")
			if p.code != 0 {
				t.Fatalf("pipeline exit %d", p.code)
			}
			if got := summaryLine(p.stderr); got != "rebased 1, up to date 0, skipped 0, failed 0" {
				t.Errorf("summary %q", got)
			}
			out, err := os.ReadFile(filepath.Join(dir, "rebased.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			newRef, err := findRef(out, suite.host+"/apps/"+s.app)
			if err != nil {
				t.Fatal(err)
			}
			onlyRefsChanged(t, []byte(input), out, map[string]string{s.ref: newRef})
			checkRebased(t, s.app, s.ref, newRef, s.baseV1, s.baseV2)
		})
	}
}
