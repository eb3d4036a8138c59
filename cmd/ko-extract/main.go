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

	"github.com/rebasekit/rebasekit/internal/cmdline"
	"github.com/rebasekit/rebasekit/internal/inputs"
	"github.com/rebasekit/rebasekit/internal/yamlflags"
	"github.com/rebasekit/rebasekit/pkg/pipeline"
	"github.com/rebasekit/rebasekit/pkg/yamlwalk"
	"github.com/urfave/cli/v2"
)

func main() {
	cmdline.Exit("ko-extract", app().Run(cmdline.HelpVersionWords(os.Args)))
}

func app() *cli.App {
	return &cli.App{
		Name:      "ko-extract",
		Usage:     "print the image references in Kubernetes YAML, one a line",
		UsageText: "ko-extract [-f FILE|DIR|-]... [-R] [--prefix REPO]... [--all] [--no-dedupe] [-o text|json] [-v]",
		Description: `Walks YAML (multi-document, any style) and prints every selected image reference
exactly as written, deduplicated in first-occurrence order. ko-rewrite reads the
same files with the same walker, so line k of this output is the k-th reference
it replaces.

EXAMPLES
   ko-extract -f release.yaml
   KO_DOCKER_REPO=gcr.io/tekton-releases ko-extract -f release.yaml
   ko-extract -R -f deploy/ -o json
   ko-extract -f release.yaml | crane-rebase-stream - | ko-rewrite -f release.yaml --images - > rebased.yaml

` + yamlflags.SelectionHelp + `

EXIT STATUS
   0 on success, also when nothing is found; 1 on invalid YAML (FILE:LINE:COL: message) or unreadable input,
   with nothing on stdout: every input is parsed before the first reference is printed; 2 on bad usage
   (an unknown flag, an argument, a bad --prefix or --output).`,
		Flags: append(append(yamlflags.Flags(),
			&cli.BoolFlag{Name: "no-dedupe", Usage: "print every occurrence, not each reference once"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "`FORMAT`: text (one reference a line) or json (one object a line: file, line, column, doc, path, rule, ref)"},
			cmdline.VerboseFlag("print every selection on stderr: FILE:LINE:COL, the rule and the reference"),
			cmdline.VersionFlag(),
		), cmdline.DocFlags()...),
		HideVersion:          true,
		EnableBashCompletion: true,
		HideHelpCommand:      true,
		OnUsageError:         cmdline.UsageError,
		Action:               run,
	}
}

func run(c *cli.Context) error {
	if c.Bool("version") {
		cmdline.PrintVersion(c)
		return nil
	}
	if ok, err := cmdline.Docs(c); ok {
		return err
	}
	format := c.String("output")
	if format != "text" && format != "json" {
		return cmdline.Usagef("--output %q: want text or json", format)
	}
	sel, err := yamlflags.FromContext(c)
	if err != nil {
		return err
	}
	// Every input is parsed before a line is printed: on invalid YAML
	// nothing reaches stdout, so the next tool never works (or pushes) on
	// half of a release. The references themselves are small.
	var all []*yamlwalk.Occurrence
	errw := c.App.ErrWriter
	verbose := c.Bool("verbose")
	for _, in := range sel.Inputs {
		if in.Name == inputs.Stdin && cmdline.IsTerminal(os.Stdin) {
			fmt.Fprintln(errw, "ko-extract: reading YAML from standard input (Ctrl-D ends it; -f FILE reads a file)")
		}
		src, err := in.Read(os.Stdin)
		if err != nil {
			return err
		}
		err = sel.Walker.Walk(in.Name, src, func(o *yamlwalk.Occurrence) error {
			all = append(all, o)
			if verbose {
				fmt.Fprintln(errw, cmdline.Selected("ko-extract", o.File, o.Line, o.Column, string(o.Rule), o.Ref))
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	sel.WarnUnusedPrefixes(all)
	found := all
	if !c.Bool("no-dedupe") {
		found = pipeline.Unique(all) // line k: the k-th reference ko-rewrite replaces
	}
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
