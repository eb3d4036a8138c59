package main

// The steps of run: the argument checks, the reads and the in-place write.

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/rebasekit/rebasekit/internal/cmdline"
	"github.com/rebasekit/rebasekit/internal/inputs"
	"github.com/rebasekit/rebasekit/pkg/atomicfile"
	"github.com/rebasekit/rebasekit/pkg/rewrite"
	"github.com/urfave/cli/v2"
)

// checkArgs refuses the combinations of inputs and flags that cannot work.
func checkArgs(c *cli.Context, ins []inputs.Input) error {
	inPlace := c.Bool("in-place")
	imagesArg := c.String("images")
	if imagesArg == "" {
		return cmdline.Usagef("--images FILE|- is required: the replacement stream (see --help)")
	}
	for _, in := range ins {
		if in.Name == inputs.Stdin && imagesArg == "-" {
			return cmdline.Usagef("the YAML and the --images stream cannot both be standard input")
		}
		if in.Name == inputs.Stdin && inPlace {
			return cmdline.Usagef("--in-place needs files, not standard input")
		}
	}
	if len(ins) > 1 && !inPlace {
		return cmdline.Usagef("%d input files: use -i to rewrite them in place (stdout takes one)", len(ins))
	}
	if inPlace {
		return inputs.CheckInPlace(c.StringSlice("filename"), ins)
	}
	return nil
}

// readYAML reads one input; a Ctrl-C while it blocks ends the run.
func readYAML(c *cli.Context, sig cmdline.Interrupts, in inputs.Input) (src []byte, err error) {
	err = readOrInterrupt(sig, func() (err error) {
		if in.Name == inputs.Stdin && cmdline.IsTerminal(os.Stdin) {
			fmt.Fprintln(c.App.ErrWriter, "ko-rewrite: reading YAML from standard input (Ctrl-D ends it; -f FILE reads a file)")
		}
		src, err = in.Read(os.Stdin)
		return err
	})
	return src, err
}

// readImages reads and checks the --images stream.
func readImages(c *cli.Context, sig cmdline.Interrupts) (img *rewrite.Images, err error) {
	imagesArg := c.String("images")
	var r io.Reader = os.Stdin
	if imagesArg != "-" {
		f, err := os.Open(imagesArg)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	err = readOrInterrupt(sig, func() (err error) {
		if imagesArg == "-" && cmdline.IsTerminal(os.Stdin) {
			fmt.Fprintln(c.App.ErrWriter, "ko-rewrite: reading the --images stream from standard input, one reference a line (Ctrl-D ends it, Ctrl-C cancels: nothing is written)")
		}
		img, err = rewrite.ParseImages(r)
		return err
	})
	return img, err
}

// writeInPlace replaces each file that changed, atomically, honouring a
// signal between files.
func writeInPlace(c *cli.Context, sig cmdline.Interrupts, ins []inputs.Input, files []*rewrite.Target) error {
	changed := 0
	for i, f := range files {
		if !f.Changed() {
			continue // untouched files are not rewritten
		}
		if err := sig.Pending(); err != nil {
			return fmt.Errorf("%w after writing %d file(s); the rest are untouched", err, changed)
		}
		if err := atomicfile.Write(ins[i].Real, f.Out); err != nil {
			return fmt.Errorf("%s: %w (files before it in the list were written)", f.Name, err)
		}
		changed++
	}
	fmt.Fprintf(c.App.ErrWriter, "ko-rewrite: %d of %d file(s) changed\n", changed, len(files))
	return nil
}

// explain words the library's refusals for the command line: the flags that
// change them.
func explain(err error) error {
	var rc *rewrite.RepoChangeError
	var ns *rewrite.NotSelectedError
	var verr *rewrite.VerifyError
	switch {
	case errors.As(err, &rc) && rc.Fixed:
		o := rc.At
		return fmt.Errorf("%s:%d:%d: %q would be replaced by %q, an image in another repository: the registry and repository of a reference written in parts are never rewritten, not even with --allow-repo-change; edit them by hand", o.File, o.Line, o.Column, rc.Old, rc.New)
	case errors.As(err, &rc):
		return fmt.Errorf("%w (use --allow-repo-change if this is meant)", err)
	case errors.As(err, &ns):
		return fmt.Errorf("%w (check the files and --prefix)", err)
	case errors.As(err, &verr):
		return fmt.Errorf("%w; nothing written", err)
	}
	return err
}
