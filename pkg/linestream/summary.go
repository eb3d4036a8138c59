package linestream

import (
	"fmt"
	"strings"

	"github.com/rebasekit/rebasekit/pkg/rebase"
)

// Summary counts the actions of a run. Results, in input order (blank lines
// aside), is only kept with Stream.KeepResults: a run's memory must not grow
// with its input. Its JSON is crane-rebase-stream's --report.
type Summary struct {
	Rebased  int `json:"rebased"`
	UpToDate int `json:"upToDate"`
	Skipped  int `json:"skipped"`
	Failed   int `json:"failed"`
	// CopiedBytes is the total of the results' CopiedBytes: the bytes of
	// new-base layers read from another registry than the images'.
	CopiedBytes int64           `json:"copiedBytes"`
	Results     []rebase.Result `json:"images"`
}

// Add counts r and keeps it (a blank line is neither).
func (s *Summary) Add(r rebase.Result) {
	if s.count(r) {
		s.Results = append(s.Results, r)
	}
}

// count counts r and says whether it is an image's result.
func (s *Summary) count(r rebase.Result) bool {
	switch r.Action {
	case rebase.Rebased:
		s.Rebased++
	case rebase.UpToDate:
		s.UpToDate++
	case rebase.Skipped:
		s.Skipped++
	case rebase.Failed:
		s.Failed++
	default:
		return false
	}
	s.CopiedBytes += r.CopiedBytes
	return true
}

// String is the summary line printed at the end of a run.
func (s Summary) String() string {
	return fmt.Sprintf("rebased %d, up to date %d, skipped %d, failed %d", s.Rebased, s.UpToDate, s.Skipped, s.Failed)
}

// DryRunString is the summary line of a dry run, which pushed nothing:
// "would rebase N, ...".
func (s Summary) DryRunString() string {
	return "would " + strings.Replace(s.String(), "rebased", "rebase", 1)
}

// OK reports whether no line failed.
func (s Summary) OK() bool { return s.Failed == 0 }
