// Command ko-rewrite writes replacement image references back into
// Kubernetes YAML, changing nothing but the bytes of those references: the
// last phase of
//
//	ko-extract -f release.yaml | crane-rebase-stream - | ko-rewrite -f release.yaml --images -
package main

import (
	"bufio"
	"fmt"
	"os"

	"github.com/rebasekit/rebasekit/internal/cmdline"
	"github.com/rebasekit/rebasekit/internal/yamlflags"
	"github.com/rebasekit/rebasekit/pkg/rewrite"
	"github.com/rebasekit/rebasekit/pkg/yamlwalk"
	"github.com/urfave/cli/v2"
)

func main() {
	cmdline.Exit("ko-rewrite", app().Run(cmdline.HelpVersionWords(os.Args)))
}

func app() *cli.App {
	return &cli.App{
		Name:      "ko-rewrite",
		Usage:     "write replacement image references into Kubernetes YAML, byte for byte",
		UsageText: "ko-rewrite -f FILE --images FILE|- [-i] [--allow-repo-change] [--prefix REPO]... [--all] [-v]",
		Description: `Walks the same YAML with the same walker and selection flags as ko-extract and
replaces the selected references. Only the bytes of the references change:
comments, indentation, quoting, flow style, document markers, CRLF, a BOM and a
missing final newline all stay.

The --images stream has one of two forms:
   NEW        line k replaces the k-th unique reference ko-extract prints (all of
              its occurrences); the counts must match.
   OLD NEW    OLD is replaced wherever it is selected; others stay. Filter the
              stream freely (grep -v) in this form.
Blank lines and lines starting with # are ignored.

Before writing, ko-rewrite refuses (exit 1, nothing written) when the counts
differ, an OLD is not selected, a replacement is not a reference, the last
line has no newline (the stream may be cut off), a reference pinned by digest
would lose its digest, or a replacement names another repository
(--allow-repo-change allows that). After
splicing it re-walks the result and checks that the k-th reference is now the
k-th replacement and nothing else moved; on any mismatch it writes nothing.

Marker pairs are written back split: the name field keeps its text and the tag
field becomes TAG@sha256:D (stacker), or a Flux :digest field gets sha256:D.
Split references (Helm image maps, kustomize images:) take the digest in their
digest field (a kustomize entry without one gets a new digest: line), else on
the tag as TAG@sha256:D; their registry, repository and tag never change.

EXAMPLES
   ko-extract -f release.yaml | crane-rebase-stream - | ko-rewrite -f release.yaml --images - > rebased.yaml
   ko-extract -R -f deploy/ | crane-rebase-stream - | ko-rewrite -R -f deploy/ --images - -i
   paste -d' ' old.txt new.txt | grep -v redis | ko-rewrite -f release.yaml --images - -i

` + yamlflags.SelectionHelp + `

EXIT STATUS
   0 when written (also when nothing changed); 1 on any refusal or error, with nothing written;
   2 on bad usage (an unknown flag, an argument, a missing --images); 130 (SIGINT) or 143 (SIGTERM)
   when interrupted before writing, with nothing written (with -i, between files: the rest untouched).`,
		Flags: append(append(yamlflags.Flags(),
			&cli.StringFlag{Name: "images", Usage: "replacement stream `FILE`, or - for stdin"},
			&cli.BoolFlag{Name: "in-place", Aliases: []string{"i"}, Usage: "rewrite the files (atomically; only files that change); needed for several inputs"},
			&cli.BoolFlag{Name: "allow-repo-change", Usage: "allow a replacement to name another repository than the reference it replaces"},
			summaryFlag, // summary.go
			cmdline.VerboseFlag("print every selection on stderr: FILE:LINE:COL, the rule, the reference and its replacement"),
			cmdline.VersionFlag(),
		), cmdline.DocFlags()...),
		HideVersion:          true,
		EnableBashCompletion: true,
		HideHelpCommand:      true,
		OnUsageError:         cmdline.UsageError,
		Action:               run,
	}
}

// run is flags, a loop over the inputs that finds the references in each
// (before anything is written), the replacement stream, one call that plans,
// splices and verifies every file, and the write.
func run(c *cli.Context) error {
	// SIGINT and SIGTERM are honoured between steps (sig.Pending): nothing
	// is written until every check has passed, and each file is replaced
	// atomically, so an interrupt never leaves a temporary file or a
	// half-done file behind.
	sig := cmdline.NotifyInterrupts()
	defer sig.Stop()
	if c.Bool("version") {
		cmdline.PrintVersion(c)
		return nil
	}
	if ok, err := cmdline.Docs(c); ok {
		return err
	}
	sel, err := yamlflags.FromContext(c)
	if err != nil {
		return err
	}
	if err := checkArgs(c, sel.Inputs); err != nil {
		return err
	}
	rw := &rewrite.Rewriter{Walker: sel.Walker, AllowRepoChange: c.Bool("allow-repo-change")}
	if c.Bool("verbose") {
		rw.Planned = func(o *yamlwalk.Occurrence, to string, replaced bool) {
			if !replaced {
				to += " (kept)"
			}
			fmt.Fprintln(c.App.ErrWriter, cmdline.Selected("ko-rewrite", o.File, o.Line, o.Column, string(o.Rule), o.Ref+" -> "+to))
		}
	}
	for _, in := range sel.Inputs {
		if err := sig.Pending(); err != nil {
			return fmt.Errorf("%w; nothing written", err)
		}
		src, err := readYAML(c, sig, in)
		if err != nil {
			return err
		}
		if _, err := rw.Add(in.Name, src); err != nil {
			return err
		}
	}
	sel.WarnUnusedPrefixes(rw.Occurrences())
	img, err := readImages(c, sig)
	if err != nil {
		return err
	}
	if err := rw.Rewrite(img); err != nil {
		return explain(err)
	}
	if err := sig.Pending(); err != nil {
		return fmt.Errorf("%w; nothing written", err)
	}
	if err := writeSummary(c, sel.Walker, rw.Files()); err != nil { // summary.go
		return err
	}
	if !c.Bool("in-place") {
		w := bufio.NewWriter(c.App.Writer)
		if _, err := w.Write(rw.Files()[0].Out); err != nil {
			return err
		}
		return w.Flush()
	}
	return writeInPlace(c, sig, sel.Inputs, rw.Files())
}
