// Command ko-extract prints the image references found in Kubernetes YAML,
// one a line, in input order: the first phase of
//
//	ko-extract -f release.yaml | crane-rebase-stream - | ko-rewrite -f release.yaml --images -
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	"github.com/rebasekit/rebasekit/internal/clisel"
	"github.com/rebasekit/rebasekit/pkg/dedupe"
	"github.com/rebasekit/rebasekit/pkg/yamlwalk"
	"github.com/urfave/cli/v2"
)

func main() {
	if err := app().Run(os.Args); err != nil {
		fmt.Fprintf(os.Stderr, "ko-extract: %v\n", err)
		os.Exit(1)
	}
}

func app() *cli.App {
	return &cli.App{
		Name:      "ko-extract",
		Usage:     "print the image references in Kubernetes YAML, one a line",
		UsageText: "ko-extract [-f FILE|DIR|-]... [-R] [--prefix REPO]... [--all] [--no-dedupe] [-o text|json]",
		Version:   clisel.Version(),
		Description: `Walks YAML (multi-document, any style) and prints every selected image reference
exactly as written, deduplicated in first-occurrence order. ko-rewrite reads the
same files with the same walker, so line k of this output is the k-th reference
it replaces.

EXAMPLES
   ko-extract -f release.yaml
   KO_DOCKER_REPO=gcr.io/tekton-releases ko-extract -f release.yaml
   ko-extract -R -f deploy/ -o json
   ko-extract -f release.yaml | crane-rebase-stream - | ko-rewrite -f release.yaml --images - > rebased.yaml

` + clisel.SelectionHelp + `

EXIT STATUS
   0 on success, also when nothing is found; 1 on invalid YAML (FILE:LINE:COL: message) or unreadable input,
   with nothing on stdout: every input is parsed before the first reference is printed.`,
		Flags: append(clisel.Flags(),
			&cli.BoolFlag{Name: "no-dedupe", Usage: "print every occurrence, not each reference once"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "`FORMAT`: text (one reference a line) or json (one object a line: file, line, column, doc, path, rule, ref)"},
		),
		HideHelpCommand: true,
		OnUsageError:    clisel.UsageError,
		Action:          run,
	}
}

func run(c *cli.Context) error {
	format := c.String("output")
	if format != "text" && format != "json" {
		return fmt.Errorf("--output %q: want text or json", format)
	}
	sel, err := clisel.FromContext(c)
	if err != nil {
		return err
	}
	// Every input is parsed before a line is printed: on invalid YAML
	// nothing reaches stdout, so the next tool never works (or pushes) on
	// half of a release. The references themselves are small.
	var seen dedupe.Index
	var found, all []*yamlwalk.Occurrence
	for _, in := range sel.Inputs {
		src, err := in.Read(os.Stdin)
		if err != nil {
			return err
		}
		err = sel.Walker.Walk(in.Name, src, func(o *yamlwalk.Occurrence) error {
			all = append(all, o)
			if _, first := seen.Add(o.Ref); first || c.Bool("no-dedupe") {
				found = append(found, o)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	sel.WarnUnusedPrefixes(all)
	out := bufio.NewWriter(c.App.Writer)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	for _, o := range found {
		var err error
		if format == "json" {
			err = enc.Encode(o)
		} else {
			_, err = fmt.Fprintln(out, o.Ref)
		}
		if err != nil {
			return err
		}
	}
	return out.Flush()
}
