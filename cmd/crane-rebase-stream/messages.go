package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/rebasekit/rebasekit/pkg/layout"
	"github.com/rebasekit/rebasekit/pkg/linestream"
	"github.com/rebasekit/rebasekit/pkg/rebase"
)

func splitLines(s string) []string {
	var out []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		out = append(out, s[:i])
		if i < len(s) {
			i++
		}
		s = s[i:]
	}
	return out
}

// reporter says on stderr what happened to each line, in input order, and
// keeps the progress line on a terminal.
type reporter struct {
	w          io.Writer
	verbose    bool
	p          *progress
	yamlHinted bool
}

func newReporter(w io.Writer, verbose bool) *reporter {
	return &reporter{w: w, verbose: verbose, p: newProgress(w)}
}

func (r *reporter) line(n int, res rebase.Result) {
	r.p.clear()
	for _, l := range splitLines(r.message(n, res)) {
		fmt.Fprintf(r.w, "crane-rebase-stream: %s\n", l)
	}
	r.p.update(n, res)
}

func (r *reporter) done() { r.p.clear() }

// message is what stderr says about line n, "" for nothing.
func (r *reporter) message(n int, res rebase.Result) string {
	switch {
	case errors.Is(res.Err, rebase.ErrNotReference) && looksLikeYAML(res.Input):
		// YAML piped in by mistake draws one hint, not a line each.
		if r.yamlHinted {
			return ""
		}
		r.yamlHinted = true
		return fmt.Sprintf("line %d: %q: %s", n, linestream.Clip(res.Input), yamlHint)
	case errors.Is(res.Err, rebase.ErrNotReference) && layout.IsRef(res.Input):
		// oci:... is a layout reference spelled wrong: say what is wrong.
		return fmt.Sprintf("line %d: error: %s", n, strings.TrimPrefix(res.Reason, rebase.ErrNotReference.Error()+": "))
	case errors.Is(res.Err, rebase.ErrNotReference):
		return fmt.Sprintf("line %d: %q: error: not an image reference", n, linestream.Clip(res.Input))
	case errors.Is(res.Err, linestream.ErrLineTooLong):
		return fmt.Sprintf("line %d: error: %s", n, res.Reason)
	case res.Action == rebase.Failed:
		return failureLines(res, r.verbose)
	}
	return resultMessage(res, r.verbose)
}

// resultMessage explains res, or is "" when there is nothing to say at the
// default verbosity (rebased and up to date are quiet unless verbose).
func resultMessage(r rebase.Result, verbose bool) string {
	var b strings.Builder
	switch r.Action {
	case rebase.Failed:
		fmt.Fprintf(&b, "%s: error: %s%s", r.Input, r.Reason, advice(r.Err))
	case rebase.Skipped:
		fmt.Fprintf(&b, "%s: skipped: %s%s", r.Input, r.Reason, advice(r.Err))
	case rebase.Rebased:
		if verbose {
			rebasedMessage(&b, r)
		}
		verifiedMessage(&b, r, verbose)
		signedMessage(&b, r, verbose)
	case rebase.UpToDate:
		if verbose {
			fmt.Fprintf(&b, "%s: up to date", r.Input)
		}
		verifiedMessage(&b, r, verbose)
	}
	for _, w := range r.Warnings {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s: warning: %s", r.Input, w)
	}
	return b.String()
}

func rebasedMessage(b *strings.Builder, r rebase.Result) {
	verb := "rebased"
	if r.DryRun {
		verb = "would rebase"
	}
	fmt.Fprintf(b, "%s: %s -> %s", r.Input, verb, r.Output)
	for _, p := range r.Platforms {
		if p.Action == rebase.Rebased {
			fmt.Fprintf(b, "\n%s:   %s: base %s -> %s", r.Input, p.Platform, short(p.OldBase), short(p.NewBase))
			for _, c := range p.Config {
				fmt.Fprintf(b, "\n%s:   %s: config %s", r.Input, p.Platform, c)
			}
		}
	}
}

// advice is what the command line can do about err: the engine's errors
// name no flags.
func advice(err error) string {
	switch {
	case errors.Is(err, rebase.ErrNoBaseAnnotations):
		return ": give --old-base and --new-base"
	case errors.Is(err, rebase.ErrPlainHTTP):
		return " (--insecure allows it)"
	case errors.As(err, new(*rebase.WaitTooLongError)):
		return "; --max-retry-wait allows a longer wait"
	}
	return ""
}

func short(d string) string {
	if len(d) > len("sha256:")+12 {
		return d[:len("sha256:")+12]
	}
	return d
}
