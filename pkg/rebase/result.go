package rebase

import (
	"fmt"
	"strings"
)

// Action is what happened to one input line.
type Action string

const (
	// Rebased: a new image was pushed (or, with dry run, computed); the
	// output names it.
	Rebased Action = "rebased"
	// UpToDate: the image already sits on the current base; the output is
	// the input, nothing was pushed.
	UpToDate Action = "up-to-date"
	// Skipped: the image cannot be rebased and that is not an error (no base
	// annotations, a base pinned by digest); the output is the input.
	Skipped Action = "skipped"
	// Failed: something went wrong; the output is the input.
	Failed Action = "failed"
	// Blank: a blank or comment line, echoed.
	Blank Action = "blank"
)

// Result is the outcome for one image reference.
type Result struct {
	Input  string `json:"input"`
	Output string `json:"output"`
	Action Action `json:"action"`
	// Reason says why an image was skipped or failed.
	Reason string `json:"reason,omitempty"`
	// Err is the failure, for errors.Is/As; Reason holds its text.
	Err error `json:"-"`

	Digest    string `json:"digest,omitempty"`    // the input image's digest
	NewDigest string `json:"newDigest,omitempty"` // the rebased image's digest
	MediaType string `json:"mediaType,omitempty"`
	Base      string `json:"base,omitempty"`    // base.name
	OldBase   string `json:"oldBase,omitempty"` // the base digest recorded in the index, if any
	NewBase   string `json:"newBase,omitempty"` // base.name's digest now
	Tagged    string `json:"tagged,omitempty"`  // the tag moved with --tag
	DryRun    bool   `json:"dryRun,omitempty"`
	// DurationMs is the wall time the image took, in milliseconds.
	DurationMs int64 `json:"durationMs"`

	Platforms []PlatformResult `json:"platforms,omitempty"`
	// Dropped lists index children that were not carried over (attestations,
	// unknown/unknown): they describe the old image.
	Dropped []string `json:"dropped,omitempty"`
	// Referrers lists what refers to the old digest (signatures, SBOMs,
	// attestations): it was not moved, re-sign the new image.
	Referrers []string `json:"referrers,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
}

// PlatformResult is the outcome for one platform manifest.
type PlatformResult struct {
	Platform  string `json:"platform"`
	Digest    string `json:"digest"`
	NewDigest string `json:"newDigest,omitempty"`
	Action    Action `json:"action"`
	Reason    string `json:"reason,omitempty"`
	// OldBase and NewBase are the platform manifests of the bases.
	OldBase string `json:"oldBase,omitempty"`
	NewBase string `json:"newBase,omitempty"`
	// History tells how the config history was handled when it could not be
	// swapped like the layers.
	History string `json:"history,omitempty"`
}

// Message is the line explaining r on stderr, or "" when there is nothing to
// say at the default verbosity (rebased and up to date are quiet unless
// verbose).
func (r Result) Message(verbose bool) string {
	var b strings.Builder
	switch r.Action {
	case Failed:
		fmt.Fprintf(&b, "%s: error: %s", r.Input, r.Reason)
	case Skipped:
		fmt.Fprintf(&b, "%s: skipped: %s", r.Input, r.Reason)
	case Rebased:
		if verbose {
			verb := "rebased"
			if r.DryRun {
				verb = "would rebase"
			}
			fmt.Fprintf(&b, "%s: %s -> %s", r.Input, verb, r.Output)
			for _, p := range r.Platforms {
				if p.Action == Rebased {
					fmt.Fprintf(&b, "\n%s:   %s: base %s -> %s", r.Input, p.Platform, short(p.OldBase), short(p.NewBase))
				}
			}
		}
	case UpToDate:
		if verbose {
			fmt.Fprintf(&b, "%s: up to date", r.Input)
		}
	}
	for _, w := range r.Warnings {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s: warning: %s", r.Input, w)
	}
	return b.String()
}

func short(d string) string {
	if len(d) > len("sha256:")+12 {
		return d[:len("sha256:")+12]
	}
	return d
}

// Summary counts the actions of a run and keeps every result in input order.
type Summary struct {
	Rebased  int      `json:"rebased"`
	UpToDate int      `json:"upToDate"`
	Skipped  int      `json:"skipped"`
	Failed   int      `json:"failed"`
	Results  []Result `json:"images"`
}

func (s *Summary) add(r Result) {
	switch r.Action {
	case Rebased:
		s.Rebased++
	case UpToDate:
		s.UpToDate++
	case Skipped:
		s.Skipped++
	case Failed:
		s.Failed++
	default:
		return
	}
	s.Results = append(s.Results, r)
}

// String is the summary line printed at the end of a run.
func (s Summary) String() string {
	return fmt.Sprintf("rebased %d, up to date %d, skipped %d, failed %d", s.Rebased, s.UpToDate, s.Skipped, s.Failed)
}

// OK reports whether no line failed.
func (s Summary) OK() bool { return s.Failed == 0 }
