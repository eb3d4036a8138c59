package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rebasekit/rebasekit/pkg/linestream"
	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/rebasekit/rebasekit/pkg/registry"
	"github.com/rebasekit/rebasekit/pkg/report"
	"github.com/rebasekit/rebasekit/pkg/summary"
	"github.com/urfave/cli/v2"
)

// reportFile writes --report as the lines are answered, each result dropped
// once written, so that memory does not grow with the input. It writes into
// a temporary file next to the report and renames it into place at the end:
// the report is never half-written. Its JSON is report.Report's, written by
// report.Writer.
type reportFile struct {
	path string
	f    *os.File
	bw   *bufio.Writer
	w    *report.Writer
	err  error
	// requests are the run's requests by host, method and kind, said as
	// the report's "requests" (Rebaser.Requests)
	requests func() map[string]registry.Requests
}

func newReportFile(path string) (*reportFile, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, err
	}
	r := &reportFile{path: path, f: f, bw: bufio.NewWriter(f)}
	r.w = report.NewWriter(r.bw)
	return r, nil
}

// add writes the result of an image's line (a blank line has none).
func (r *reportFile) add(res rebase.Result) { r.err = r.w.Add(res) }

// finish writes the counts and puts the report in place; on an error it
// removes the temporary file and leaves whatever was at path.
func (r *reportFile) finish(sum linestream.Summary, bases []summary.Base) error {
	// With --summary, bases are the bases that moved and their packages
	// that changed, the summary's facts for machines.
	end := report.Report{Bases: bases, Counts: sum.Counts}
	if r.requests != nil {
		end.Requests = r.requests()
	}
	r.err = r.w.Close(end)
	if r.err == nil {
		r.err = r.bw.Flush()
	}
	if r.err == nil {
		r.err = r.f.Chmod(0o644)
	}
	if r.err == nil {
		r.err = r.f.Sync()
	}
	if cerr := r.f.Close(); r.err == nil {
		r.err = cerr
	}
	if r.err == nil {
		r.err = os.Rename(r.f.Name(), r.path)
	}
	if r.err != nil {
		os.Remove(r.f.Name())
	}
	return r.err
}

// withReport is each, also writing every result to --report and
// collecting the --summary when given; nil outputs when neither is.
func withReport(c *cli.Context, r *rebase.Rebaser, each func(int, rebase.Result)) (func(int, rebase.Result), *outputs, error) {
	o := &outputs{}
	each, err := withSummary(c, r, each, o) // summary.go
	if err != nil {
		return nil, nil, err
	}
	requests := r.Requests
	if path := c.String("report"); path != "" {
		r, err := newReportFile(path)
		if err != nil {
			return nil, nil, cli.Exit(fmt.Sprintf("--report: %v", err), exitUsage)
		}
		r.requests = requests
		o.report = r
		inner := each
		each = func(n int, res rebase.Result) {
			inner(n, res)
			r.add(res)
		}
	}
	if o.report == nil && o.summary == nil {
		return each, nil, nil
	}
	return each, o, nil
}
