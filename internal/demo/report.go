package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/rebasekit/rebasekit/pkg/report"
)

// readReport reads crane-rebase-stream's --report file. It decodes into the
// engine's own types, so the demo breaks at compile time if they change.
func readReport(path string) (report.Report, error) {
	var s report.Report
	b, err := os.ReadFile(path)
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// printTable shows one row per platform of every image in the report.
func printTable(out io.Writer, s report.Report) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "IMAGE\tPLATFORM\tOLD BASE\tNEW BASE\tRESULT\tTIME")
	for _, r := range s.Images {
		img := r.Input
		if i := strings.IndexByte(img, '/'); i >= 0 {
			img = img[i+1:] // the registry is a random loopback port
		}
		if i := strings.IndexByte(img, '@'); i >= 0 {
			img = img[:i]
		}
		took := fmt.Sprintf("%dms", r.DurationMs)
		if len(r.Platforms) == 0 {
			fmt.Fprintf(tw, "%s\t-\t%s\t%s\t%s %s\t%s\n", img, short(r.OldBase), short(r.NewBase), r.Action, r.Reason, took)
		}
		for i, p := range r.Platforms {
			if i > 0 {
				img, took = "", ""
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", img, p.Platform, short(p.OldBase), short(p.NewBase), p.Action, took)
		}
	}
	tw.Flush()
}
