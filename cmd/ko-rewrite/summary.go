package main

import (
	"bytes"
	"fmt"

	"github.com/rebasekit/rebasekit/pkg/atomicfile"
	"github.com/rebasekit/rebasekit/pkg/rewrite"
	"github.com/rebasekit/rebasekit/pkg/summary"
	"github.com/rebasekit/rebasekit/pkg/yamlwalk"
	"github.com/urfave/cli/v2"
)

// summaryFlag is --summary: the lines changed, in Markdown, for the
// reviewer of the change.
var summaryFlag = &cli.StringFlag{Name: "summary", Usage: "write a Markdown summary of the change to `FILE`: per file changed, each changed line's number with the old and the new reference (for a reference written in parts, the field written)"}

// writeSummary writes --summary, when given, for a rewrite that passed its
// checks: called before the YAML is written, so that a summary that cannot
// be written stops the run with nothing written.
func writeSummary(c *cli.Context, w *yamlwalk.Walker, files []*rewrite.Target) error {
	path := c.String("summary")
	if path == "" {
		return nil
	}
	changes, err := summary.Rewrites(w, files)
	if err != nil {
		return fmt.Errorf("--summary: %w; nothing written", err)
	}
	var buf bytes.Buffer
	summary.WriteRewriteMarkdown(&buf, changes, len(files))
	if err := atomicfile.Create(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("--summary: %w; nothing written", err)
	}
	return nil
}
