// Command ko-rewrite writes replacement image references back into
// Kubernetes YAML, changing nothing but the bytes of those references: the
// last phase of
//
//	ko-extract -f release.yaml | crane-rebase-stream - | ko-rewrite -f release.yaml --images -
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/rebasekit/rebasekit/internal/cmdline"
	"github.com/rebasekit/rebasekit/internal/inputs"
	"github.com/rebasekit/rebasekit/internal/yamlflags"
	"github.com/rebasekit/rebasekit/pkg/atomicfile"
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

type file struct {
	in        inputs.Input
	src       []byte
	occs      []*yamlwalk.Occurrence
	docStarts []int
}

func run(c *cli.Context) error {
	// Nothing is written until every check has passed, and each file is
	// replaced atomically. SIGINT/SIGTERM are noted and honoured between files,
	// so an interrupt never leaves a temporary file or a half-done file behind.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	interrupted := func() error {
		select {
		case s := <-sig:
			return interruptedBy(s)
		default:
			return nil
		}
	}
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
	inPlace := c.Bool("in-place")
	imagesArg := c.String("images")
	if imagesArg == "" {
		return cmdline.Usagef("--images FILE|- is required: the replacement stream (see --help)")
	}
	for _, in := range sel.Inputs {
		if in.Name == inputs.Stdin && imagesArg == "-" {
			return cmdline.Usagef("the YAML and the --images stream cannot both be standard input")
		}
		if in.Name == inputs.Stdin && inPlace {
			return cmdline.Usagef("--in-place needs files, not standard input")
		}
	}
	if len(sel.Inputs) > 1 && !inPlace {
		return cmdline.Usagef("%d input files: use -i to rewrite them in place (stdout takes one)", len(sel.Inputs))
	}
	if inPlace {
		if err := inputs.CheckInPlace(c.StringSlice("filename"), sel.Inputs); err != nil {
			return err
		}
	}

	// Phase 1: find, in every file, before anything is written.
	var files []*file
	var all []*yamlwalk.Occurrence
	for _, in := range sel.Inputs {
		if err := interrupted(); err != nil {
			return fmt.Errorf("%w; nothing written", err)
		}
		var src []byte
		err := readOrInterrupt(sig, func() (err error) {
			if in.Name == inputs.Stdin && cmdline.IsTerminal(os.Stdin) {
				fmt.Fprintln(c.App.ErrWriter, "ko-rewrite: reading YAML from standard input (Ctrl-D ends it; -f FILE reads a file)")
			}
			src, err = in.Read(os.Stdin)
			return err
		})
		if err != nil {
			return err
		}
		occs, docStarts, err := sel.Walker.CollectDocs(in.Name, src)
		if err != nil {
			return err
		}
		files = append(files, &file{in: in, src: src, occs: occs, docStarts: docStarts})
		all = append(all, occs...)
	}

	sel.WarnUnusedPrefixes(all)

	// Phase 2: read and check the replacements.
	var imgR io.Reader = os.Stdin
	if imagesArg != "-" {
		f, err := os.Open(imagesArg)
		if err != nil {
			return err
		}
		defer f.Close()
		imgR = f
	}
	var img *rewrite.Images
	err = readOrInterrupt(sig, func() (err error) {
		if imagesArg == "-" && cmdline.IsTerminal(os.Stdin) {
			fmt.Fprintln(c.App.ErrWriter, "ko-rewrite: reading the --images stream from standard input, one reference a line (Ctrl-D ends it, Ctrl-C cancels: nothing is written)")
		}
		img, err = rewrite.ParseImages(imgR)
		return err
	})
	if err != nil {
		return err
	}
	plan, err := rewrite.Plan(all, img, c.Bool("allow-repo-change"))
	if err != nil {
		return err
	}
	if c.Bool("verbose") {
		for _, o := range all {
			to, ok := plan[o.Ref]
			if !ok {
				to = o.Ref + " (kept)"
			}
			fmt.Fprintln(c.App.ErrWriter, cmdline.Selected("ko-rewrite", o.File, o.Line, o.Column, string(o.Rule), o.Ref+" -> "+to))
		}
	}

	// Phase 3: splice and verify every file, still writing nothing.
	outs := make([][]byte, len(files))
	for i, f := range files {
		if err := interrupted(); err != nil {
			return fmt.Errorf("%w; nothing written", err)
		}
		s, err := rewrite.Splice(f.src, f.occs, plan)
		if err != nil {
			return fmt.Errorf("%s: %w", f.in.Name, err)
		}
		if err := rewrite.Verify(sel.Walker, f.in.Name, s, f.occs, f.docStarts); err != nil {
			return fmt.Errorf("%w; nothing written", err)
		}
		outs[i] = s.Out
	}

	// Phase 4: write.
	if !inPlace {
		w := bufio.NewWriter(c.App.Writer)
		if _, err := w.Write(outs[0]); err != nil {
			return err
		}
		return w.Flush()
	}
	changed := 0
	for i, f := range files {
		if bytes.Equal(outs[i], f.src) {
			continue // untouched files are not rewritten
		}
		if err := interrupted(); err != nil {
			return fmt.Errorf("%w after writing %d file(s); the rest are untouched", err, changed)
		}
		if err := atomicfile.Write(f.in.Real, outs[i]); err != nil {
			return fmt.Errorf("%s: %w (files before it in the list were written)", f.in.Name, err)
		}
		changed++
	}
	fmt.Fprintf(c.App.ErrWriter, "ko-rewrite: %d of %d file(s) changed\n", changed, len(files))
	return nil
}

// interruptedBy is the error for a signal before anything was written: exit
// status 128 + the signal (130 for SIGINT, 143 for SIGTERM).
func interruptedBy(s os.Signal) error {
	code := cmdline.ExitInterrupted + int(syscall.SIGINT)
	if n, ok := s.(syscall.Signal); ok {
		code = cmdline.ExitInterrupted + int(n)
	}
	name := s.String()
	switch s {
	case os.Interrupt:
		name = "SIGINT"
	case syscall.SIGTERM:
		name = "SIGTERM"
	}
	return &cmdline.StatusError{Code: code, Err: fmt.Errorf("interrupted (%s)", name)}
}

// readOrInterrupt runs read, which may block on a terminal or a pipe that
// never ends, and returns early when a signal arrives: a person who typed
// Ctrl-C at ko-rewrite waiting for --images - gets their shell back (exit
// 130), with nothing written. The read goroutine is abandoned; the process
// exits right after.
func readOrInterrupt(sig <-chan os.Signal, read func() error) error {
	done := make(chan error, 1)
	go func() { done <- read() }()
	select {
	case err := <-done:
		return err
	case s := <-sig:
		return fmt.Errorf("%w; nothing written", interruptedBy(s))
	}
}
