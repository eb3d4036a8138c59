// Command crane-rebase-stream rebases the images named on its input, one
// reference a line, and prints one line for each: the middle phase of
//
//	ko-extract -f release.yaml | crane-rebase-stream - | ko-rewrite -f release.yaml --images -
//
// The work is done by package rebase; this command parses flags, wires
// stdin/stdout/stderr and turns the summary into an exit status.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/rebasekit/rebasekit/internal/cmdline"
	"github.com/rebasekit/rebasekit/pkg/linestream"
	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/urfave/cli/v2"
)

// Exit statuses; interrupted, cmdline.InterruptStatus: 130 for SIGINT, 143
// for SIGTERM, 141 when stdout's reader is gone.
const (
	exitFailed = 1 // at least one line failed
	exitUsage  = 2 // bad flags, unreadable input, unwritable output or report
)

// defaultTimeout bounds the work on one image, so that a registry that stops
// answering cannot hold an unattended job forever.
const defaultTimeout = 10 * time.Minute

func main() {
	os.Exit(runMain(os.Args, os.Stdin, os.Stdout, os.Stderr))
}

// runMain runs the command and returns its exit status.
func runMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	stderr = &lockedWriter{w: stderr}
	intr := newInterrupt(stderr)
	defer intr.close()
	a := app(intr)
	a.Reader, a.Writer, a.ErrWriter = stdin, stdout, stderr
	err := a.Run(cmdline.HelpVersionWords(args))
	var ec cli.ExitCoder
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ec):
		if msg := err.Error(); msg != "" {
			fmt.Fprintf(stderr, "crane-rebase-stream: %s\n", msg)
		}
		return ec.ExitCode()
	default:
		fmt.Fprintf(stderr, "crane-rebase-stream: %v\n", err)
		return exitUsage
	}
}

func run(intr *interrupt, c *cli.Context) error {
	stderr := c.App.ErrWriter
	if c.Bool("version") {
		fmt.Fprintln(c.App.Writer, "crane-rebase-stream version", version())
		return nil
	}
	if ok, err := cmdline.Docs(c); ok {
		return err
	}
	if err := checkFlags(c); err != nil {
		return err
	}
	sign, err := signOptions(c)
	if err != nil {
		return err
	}
	trust, err := trustOptions(c) // trust.go
	if err != nil {
		return err
	}
	sign = append(sign, trust...)
	in, closeIn, err := input(c)
	if err != nil {
		return err
	}
	defer closeIn()
	bl := newBacklog(c.Args().First(), c.IsSet("shard")) // backlog.go
	r, err := rebase.New(append(options(c), append(sign, rebase.WithBacklog(bl.counts))...)...)
	if err != nil {
		return cli.Exit(err.Error(), exitUsage)
	}
	rep := newReporter(stderr, c.Bool("verbose"))
	rep.p.dryRun = c.Bool("dry-run")
	if name := c.Args().First(); name != "" && name != "-" && rep.p.on && !c.IsSet("shard") { // a shard answers a share: no total
		rep.p.total = countLines(name)
	}
	each, repf, err := withReport(c, r, rep.line) // report.go
	if err != nil {
		return err
	}
	shard, _ := shardFlag(c) // checked by checkFlags
	watchReader(c.App.Writer, intr.done, intr.readerGone)
	sum, err := linestream.Stream{Jobs: c.Int("jobs"), Stop: intr.stop, Each: each, Pairs: c.Bool("pairs"), Shard: shard, Ended: bl.ended}.Run(intr.ctx, bl.worker(r), in, c.App.Writer)
	if errors.Is(err, syscall.EPIPE) {
		intr.readerGone() // found by a write before the watcher, or where there is none
	}
	rep.done()
	if c.Bool("verbose") {
		// Before the summary, which stays the last line; the reads of
		// --summary, after it, are in --report's "requests" only.
		fmt.Fprint(stderr, requestLines(r.Requests())) // requests.go
	}
	fmt.Fprintf(stderr, "crane-rebase-stream: %s\n", summaryLine(sum, c.Bool("dry-run")))
	if repf != nil {
		if werr := repf.finish(intr.outputsCtx(), sum); werr != nil {
			return cli.Exit(werr.Error(), exitUsage) // "writing report: ...", "writing summary: ..."
		}
	}
	const unanswered = "standard output's reader is gone: the lines not answered were not rebased, or their rebased images are pushed but named by nothing; run again"
	if intr.readerIsGone() {
		intr.signalWith(200 * time.Millisecond)
	}
	switch {
	case intr.signal() != nil && intr.readerIsGone():
		return cli.Exit("interrupted: "+unanswered, cmdline.InterruptStatus(intr.signal()))
	case intr.readerIsGone():
		return cli.Exit(unanswered, cmdline.InterruptStatus(syscall.SIGPIPE))
	case err != nil:
		return cli.Exit(err.Error(), exitUsage)
	case intr.signal() != nil:
		return cli.Exit("interrupted: every line read was answered (unfinished ones echoed)", cmdline.InterruptStatus(intr.signal()))
	case !sum.OK():
		return cli.Exit("", exitFailed)
	}
	return nil
}

// input is the FILE argument, or stdin (with a hint on a terminal).
func input(c *cli.Context) (io.Reader, func(), error) {
	if name := c.Args().First(); name != "" && name != "-" {
		f, err := openInput(name)
		if err != nil {
			return nil, nil, cli.Exit(err.Error(), exitUsage)
		}
		return f, func() { f.Close() }, nil
	}
	if cmdline.IsTerminal(c.App.Reader) {
		fmt.Fprintf(c.App.ErrWriter, "crane-rebase-stream: %s\n", stdinHint)
	}
	return c.App.Reader, func() {}, nil
}

func version() string { return cmdline.Version() }

// summaryLine is the summary said at the end (and on the progress line):
// a dry run pushed nothing, so it "would rebase".
func summaryLine(sum linestream.Summary, dryRun bool) string {
	if dryRun {
		return sum.DryRunString()
	}
	return sum.String()
}
