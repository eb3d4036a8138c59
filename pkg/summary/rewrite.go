package summary

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/rebasekit/rebasekit/pkg/rewrite"
	"github.com/rebasekit/rebasekit/pkg/yamlwalk"
)

// LineChange is one line a rewrite changed.
type LineChange struct {
	Line int `json:"line"` // in the new file, 1-based
	// Field is the field written of a reference written in parts (a Helm
	// image map's or a kustomize entry's "digest" or "tag", a marker
	// group's field); empty for a reference written whole.
	Field string `json:"field,omitempty"`
	// Ref is the reference the parts make up, before the rewrite, for a
	// reference written in parts.
	Ref string `json:"ref,omitempty"`
	Old string `json:"old"` // the reference, or the field's text ("" for an empty field)
	New string `json:"new"`
}

// FileChanges is the lines a rewrite changed in one file.
type FileChanges struct {
	File  string       `json:"file"`
	Lines []LineChange `json:"lines"`
}

// Rewrites says which lines the rewrite changed in each file that changed
// (files left as they were are not listed). It walks each new file with w,
// the walker of the rewrite, whose Verify made sure the new file selects
// the same occurrences in the same order.
func Rewrites(w *yamlwalk.Walker, files []*rewrite.Target) ([]FileChanges, error) {
	if w == nil {
		w = &yamlwalk.Walker{}
	}
	var out []FileChanges
	for _, f := range files {
		if !f.Changed() {
			continue
		}
		after, _, err := w.CollectDocs(f.Name, f.Out)
		if err != nil {
			return nil, err
		}
		if len(after) != len(f.Occurrences) {
			return nil, fmt.Errorf("%s: %d references after the rewrite, %d before", f.Name, len(after), len(f.Occurrences))
		}
		fc := FileChanges{File: f.Name}
		for i, o := range f.Occurrences {
			n := after[i]
			if n.Ref == o.Ref {
				continue
			}
			if len(n.Parts) == 0 {
				fc.Lines = append(fc.Lines, LineChange{Line: n.Line, Old: o.Ref, New: n.Ref})
				continue
			}
			for _, np := range n.Parts {
				old := ""
				for _, op := range o.Parts {
					if op.Field == np.Field && !op.Empty {
						old = op.Text
					}
				}
				nt := np.Text
				if np.Empty {
					nt = ""
				}
				if nt == old {
					continue
				}
				fc.Lines = append(fc.Lines, LineChange{Line: lineAt(f.Out, np.Span.Start), Field: np.Field, Ref: o.Ref, Old: old, New: nt})
			}
		}
		out = append(out, fc)
	}
	return out, nil
}

// lineAt is the 1-based line of byte offset off in b.
func lineAt(b []byte, off int) int {
	if off > len(b) {
		off = len(b)
	}
	return bytes.Count(b[:off], []byte("\n")) + 1
}

// WriteRewriteMarkdown writes the lines changed, per file, of total files.
func WriteRewriteMarkdown(w io.Writer, files []FileChanges, total int) error {
	var b strings.Builder
	b.WriteString("# Rewrite summary\n\n")
	n := 0
	for _, f := range files {
		fmt.Fprintf(&b, "## %s\n\n", code(f.File))
		for _, l := range f.Lines {
			n++
			if l.Field == "" {
				fmt.Fprintf(&b, "- line %d: %s -> %s\n", l.Line, code(l.Old), code(l.New))
			} else {
				fmt.Fprintf(&b, "- line %d, %s of %s: %s -> %s\n", l.Line, escape(l.Field), code(l.Ref), code(l.Old), code(l.New))
			}
		}
		b.WriteString("\n")
	}
	if len(files) == 0 {
		b.WriteString("No reference changed.\n\n")
	}
	fmt.Fprintf(&b, "%d reference(s) changed in %d of %d file(s).\n", n, len(files), total)
	_, err := io.WriteString(w, b.String())
	return err
}
