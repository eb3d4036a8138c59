package rewrite

import (
	"fmt"

	"github.com/rebasekit/rebasekit/pkg/yamlwalk"
)

// RepoChangeError is a replacement that names another repository than the
// reference it replaces: a sign that the streams are misaligned, unless the
// caller allows it (Rewriter.AllowRepoChange, Plan's allowRepoChange).
type RepoChangeError struct {
	At       *yamlwalk.Occurrence // where Old is (its first occurrence)
	Old, New string
	// Fixed: Old is written in parts whose registry and repository are
	// never rewritten (a split reference, a marker group that takes its
	// name from its map), so allowing repository changes does not help.
	Fixed bool
}

func (e *RepoChangeError) Error() string {
	o := e.At
	msg := fmt.Sprintf("%s:%d:%d: %q would be replaced by %q, an image in another repository", o.File, o.Line, o.Column, e.Old, e.New)
	if e.Fixed {
		return msg + ": the registry and repository of a reference written in parts are never rewritten; edit them by hand"
	}
	return msg + ": the streams may be misaligned"
}

// NotSelectedError is an OLD of an OLD NEW stream that the walker did not
// select in the input.
type NotSelectedError struct {
	Line int // in the images stream
	Old  string
}

func (e *NotSelectedError) Error() string {
	return fmt.Sprintf("images line %d: %q is not selected in the input", e.Line, e.Old)
}
