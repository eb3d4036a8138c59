package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rebasekit/rebasekit/pkg/linestream"
	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/rebasekit/rebasekit/pkg/registry"
	"github.com/rebasekit/rebasekit/pkg/summary"
	"github.com/urfave/cli/v2"
)

// reportFile writes --report as the lines are answered, each result dropped
// once written, so that memory does not grow with the input. It writes into
// a temporary file next to the report and renames it into place at the end:
// the report is never half-written. Its JSON is linestream.Summary's (keys
// in another order: the images first, the counts once they are known).
type reportFile struct {
	path string
	f    *os.File
	bw   *bufio.Writer
	n    int
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
	_, r.err = r.bw.WriteString("{\n  \"images\": [")
	return r, nil
}

// add writes the result of an image's line (a blank line has none).
func (r *reportFile) add(res rebase.Result) {
	switch res.Action {
	case rebase.Rebased, rebase.UpToDate, rebase.Skipped, rebase.Failed:
	default:
		return
	}
	if r.err != nil {
		return
	}
	b, err := json.MarshalIndent(res, "    ", "  ")
	if err != nil {
		r.err = err
		return
	}
	sep := ",\n    "
	if r.n == 0 {
		sep = "\n    "
	}
	r.n++
	if _, err := r.bw.WriteString(sep); err != nil {
		r.err = err
		return
	}
	_, r.err = r.bw.Write(b)
}

// finish writes the counts and puts the report in place; on an error it
// removes the temporary file and leaves whatever was at path.
func (r *reportFile) finish(sum linestream.Summary, bases []summary.Base) error {
	end := "]"
	if r.n > 0 {
		end = "\n  ]"
	}
	if r.err == nil {
		if bases != nil {
			// With --summary: the bases that moved and their packages
			// that changed, the summary's facts for machines.
			var b []byte
			if b, r.err = json.MarshalIndent(bases, "  ", "  "); r.err == nil {
				end += ",\n  \"bases\": " + string(b)
			}
		}
	}
	if r.err == nil && r.requests != nil {
		var b []byte
		if b, r.err = json.MarshalIndent(r.requests(), "  ", "  "); r.err == nil {
			end += ",\n  \"requests\": " + string(b)
		}
	}
	if r.err == nil {
		_, r.err = fmt.Fprintf(r.bw, "%s,\n  \"rebased\": %d,\n  \"upToDate\": %d,\n  \"skipped\": %d,\n  \"failed\": %d,\n  \"copiedBytes\": %d\n}\n",
			end, sum.Rebased, sum.UpToDate, sum.Skipped, sum.Failed, sum.CopiedBytes)
	}
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
