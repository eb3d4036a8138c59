package linestream

import (
	"fmt"
	"strings"

	"github.com/rebasekit/rebasekit/pkg/rebase"
)

// Summary counts the actions of a run. Results, in input order (blank lines
// aside), is only kept with Stream.KeepResults: a run's memory must not grow
// with its input. crane-rebase-stream's --report is package report's Report,
// which holds the same counts and results.
type Summary struct {
	Counts
	Results []rebase.Result `json:"images"`
}

// Counts are a run's lines by action, and the bytes it copied.
type Counts struct {
	Rebased  int `json:"rebased"`
	UpToDate int `json:"upToDate"`
	Skipped  int `json:"skipped"`
	Failed   int `json:"failed"`
	// CopiedBytes is the total of the results' CopiedBytes: the bytes of
	// new-base layers read from another registry than the images'.
	CopiedBytes int64 `json:"copiedBytes"`
}

// Add counts r and keeps it (a blank line is neither).
func (s *Summary) Add(r rebase.Result) {
	if s.count(r) {
		s.Results = append(s.Results, r)
	}
}

// IsImage reports whether r is the result of an image's line, one that is
// counted and reported; a blank or comment line's is not.
func IsImage(r rebase.Result) bool {
	var c Counts
	return c.count(r)
}

// count counts r and says whether it is an image's result.
func (c *Counts) count(r rebase.Result) bool {
	switch r.Action {
	case rebase.Rebased:
		c.Rebased++
	case rebase.UpToDate:
		c.UpToDate++
	case rebase.Skipped:
		c.Skipped++
	case rebase.Failed:
		c.Failed++
	default:
		return false
	}
	c.CopiedBytes += r.CopiedBytes
	return true
}

// String is the summary line printed at the end of a run.
func (c Counts) String() string {
	return fmt.Sprintf("rebased %d, up to date %d, skipped %d, failed %d", c.Rebased, c.UpToDate, c.Skipped, c.Failed)
}

// DryRunString is the summary line of a dry run, which pushed nothing:
// "would rebase N, ...".
func (c Counts) DryRunString() string {
	return "would " + strings.Replace(c.String(), "rebased", "rebase", 1)
}

// OK reports whether no line failed.
func (c Counts) OK() bool { return c.Failed == 0 }
