// Package pipeline holds the rules the three commands of
//
//	ko-extract -f release.yaml | crane-rebase-stream - | ko-rewrite -f release.yaml --images -
//
// must agree on, written once so that they cannot drift apart:
//
//   - the list: ko-extract prints each selected reference once, in
//     first-occurrence order (Unique), and ko-rewrite reads line k of the
//     NEW form as the replacement of that same k-th reference;
//   - the line forms: a reference a line (NEW), or a Pair "OLD NEW", which
//     crane-rebase-stream --pairs writes and ko-rewrite --images reads;
//     blank and comment lines (Ignored) are echoed by crane-rebase-stream
//     and skipped by ko-rewrite;
//   - MaxLine, the longest line either side reads as a reference.
package pipeline

import (
	"strings"

	"github.com/rebasekit/rebasekit/pkg/yamlwalk"
)

// MaxLine is the longest line of the stream read as a reference, in bytes
// (without its line ending); a reference is at most a few hundred bytes.
const MaxLine = 64 << 10

// Unique returns the first occurrence of each reference in occs, in order:
// the k-th is what line k of ko-extract's output names, and what line k of
// the NEW form replaces. References are the same when their text is
// (Occurrence.Ref, exactly as written).
func Unique(occs []*yamlwalk.Occurrence) []*yamlwalk.Occurrence {
	seen := make(map[string]bool, len(occs))
	var first []*yamlwalk.Occurrence
	for _, o := range occs {
		if !seen[o.Ref] {
			seen[o.Ref] = true
			first = append(first, o)
		}
	}
	return first
}

// Ignored reports whether a line carries no reference: blank, or a comment
// (its first non-space character is "#").
func Ignored(line string) bool {
	t := strings.TrimSpace(line)
	return t == "" || strings.HasPrefix(t, "#")
}

// Pair is the line of the OLD NEW form, without its line ending. NEW is OLD
// for a reference that was not rebased.
func Pair(old, nw string) string { return old + " " + nw }

// Fields splits a line that is not Ignored into its references: one in the
// NEW form, two in the OLD NEW form (Pair); any run of spaces or tabs
// separates them.
func Fields(line string) []string { return strings.Fields(line) }
