package main

import (
	"bytes"
	"context"
	"fmt"

	"github.com/rebasekit/rebasekit/pkg/atomicfile"
	"github.com/rebasekit/rebasekit/pkg/linestream"
	"github.com/rebasekit/rebasekit/pkg/packages"
	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/rebasekit/rebasekit/pkg/summary"
	"github.com/urfave/cli/v2"
)

// outputs are the files written at the end of the run: --report (JSON,
// written as the lines are answered) and --summary (Markdown, for the
// reviewer of the change). Each is put in place whole, or not at all.
type outputs struct {
	report      *reportFile
	summary     *summary.Rebase
	summaryPath string
	timeout     func(context.Context) (context.Context, context.CancelFunc)
}

// withSummary adds --summary to each: the results are collected, the
// bases' packages read at the end, once per base. Without --summary no
// base layer is read.
func withSummary(c *cli.Context, r *rebase.Rebaser, each func(int, rebase.Result), o *outputs) (func(int, rebase.Result), error) {
	path := c.String("summary")
	if path == "" {
		return each, nil
	}
	// Refuse an unwritable summary before any image is pushed.
	if err := atomicfile.CheckWritable(path); err != nil {
		return nil, cli.Exit(fmt.Sprintf("--summary: %v", err), exitUsage)
	}
	// The bases are read through the engine's registry client: the same
	// --max-requests bound, retries, keychain and plain-HTTP guard.
	o.summary = &summary.Rebase{Packages: packages.NewReader(r.Source(), r.Destination(), 0), OldBase: c.String("old-base"), Jobs: c.Int("jobs")}
	if c.Bool("insecure") {
		o.summary.Insecure = true
	}
	o.summaryPath = path
	d := c.Duration("timeout")
	o.timeout = func(parent context.Context) (context.Context, context.CancelFunc) {
		if d > 0 {
			return context.WithTimeout(parent, d)
		}
		return context.WithCancel(parent)
	}
	return func(n int, res rebase.Result) {
		each(n, res)
		o.summary.Add(n, res)
	}, nil
}

// finish reads the bases' packages (with --summary) and writes the report
// and the summary. The reads end with ctx: after Ctrl-C, or once the
// reader of the output is gone, the summary is written at once, each
// base's packages unknown for that reason.
func (o *outputs) finish(ctx context.Context, sum linestream.Summary) error {
	var bases []summary.Base
	if o.summary != nil {
		ctx, cancel := o.timeout(ctx)
		bases = o.summary.Bases(ctx)
		cancel()
	}
	if o.report != nil {
		if err := o.report.finish(sum, bases); err != nil {
			return fmt.Errorf("writing report: %w", err)
		}
	}
	if o.summary != nil {
		var buf bytes.Buffer
		summary.WriteMarkdown(&buf, bases, o.summary.Failures(), sum, o.summary.DryRun())
		if err := atomicfile.Create(o.summaryPath, buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("writing summary: %w", err)
		}
	}
	return nil
}
