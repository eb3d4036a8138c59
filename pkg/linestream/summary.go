package linestream

import (
	"fmt"

	"github.com/rebasekit/rebasekit/pkg/rebase"
)

// Summary counts the actions of a run and keeps every result in input
// order (blank lines aside).
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
		return
	}
	s.CopiedBytes += r.CopiedBytes
	s.Results = append(s.Results, r)
}

// String is the summary line printed at the end of a run.
func (s Summary) String() string {
	return fmt.Sprintf("rebased %d, up to date %d, skipped %d, failed %d", s.Rebased, s.UpToDate, s.Skipped, s.Failed)
}

// OK reports whether no line failed.
func (s Summary) OK() bool { return s.Failed == 0 }
