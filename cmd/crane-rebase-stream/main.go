// Command crane-rebase-stream rebases the images named on its input, one
// reference a line, and prints one line for each: the middle phase of
//
//	ko-extract -f release.yaml | crane-rebase-stream - | ko-rewrite -f release.yaml --images -
//
// The work is done by package rebase; this command parses flags, wires
// stdin/stdout/stderr and turns the summary into an exit status.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/rebasekit/rebasekit/internal/cmdline"
	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/urfave/cli/v2"
)

// Exit statuses.
const (
	exitFailed      = 1   // at least one line failed
	exitUsage       = 2   // bad flags, unreadable input, unwritable output or report
	exitInterrupted = 128 // + the signal: 130 for SIGINT, 143 for SIGTERM
)

// grace is how long the images in flight may take to finish after the first
// SIGINT/SIGTERM; a second signal abandons them at once.
const grace = 10 * time.Second

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

// interrupt turns SIGINT/SIGTERM into a graceful stop: the first signal
// closes stop (no new line is taken, the images in flight finish), the second
// one, or the end of the grace period, ends ctx (they are abandoned). Every
// line read is answered either way.
type interrupt struct {
	stop   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	sigs   chan os.Signal
	done   chan struct{}
	sig    atomic.Pointer[os.Signal]
}

func newInterrupt(stderr io.Writer) *interrupt {
	i := &interrupt{stop: make(chan struct{}), sigs: make(chan os.Signal, 2), done: make(chan struct{})}
	i.ctx, i.cancel = context.WithCancel(context.Background())
	signal.Notify(i.sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		var sig os.Signal
		select {
		case sig = <-i.sigs:
		case <-i.done:
			return
		}
		i.sig.Store(&sig)
		// Say it before closing stop: once stop is closed the stream may
		// finish and the process exit before this goroutine runs again.
		fmt.Fprintf(stderr, "crane-rebase-stream: %s: taking no new line; finishing the images in flight (at most %s, signal again to abandon them)\n", sigName(sig), grace)
		close(i.stop)
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case sig = <-i.sigs:
			fmt.Fprintf(stderr, "crane-rebase-stream: %s: abandoning the images in flight\n", sigName(sig))
		case <-t.C:
			fmt.Fprintf(stderr, "crane-rebase-stream: abandoning the images still in flight after %s\n", grace)
		case <-i.done:
		}
		i.cancel()
	}()
	return i
}

// signal returns the first signal received, or nil.
func (i *interrupt) signal() os.Signal {
	if p := i.sig.Load(); p != nil {
		return *p
	}
	return nil
}

func (i *interrupt) close() {
	signal.Stop(i.sigs)
	close(i.done)
	i.cancel()
}

func sigName(s os.Signal) string {
	switch s {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

func exitCode(s os.Signal) int {
	if n, ok := s.(syscall.Signal); ok {
		return exitInterrupted + int(n)
	}
	return exitInterrupted + int(syscall.SIGINT)
}

// lockedWriter serialises writes to stderr from the stream and the signal
// handler.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func app(intr *interrupt) *cli.App {
	return &cli.App{
		Name:      "crane-rebase-stream",
		Usage:     "rebase the images named on stdin onto their base's current version, one reference a line",
		UsageText: "crane-rebase-stream [flags] [FILE|-]",
		Description: `Reads image references, one a line, from FILE or stdin, and writes exactly one
line for each to stdout, in input order, as soon as that line and all before it
are done. Up to --jobs images are rebased at once.

Each image (single- or multi-platform, Docker or OCI) is moved onto the current
version of the base it was built on, found from the annotations ko writes:
org.opencontainers.image.base.name (the base tag, resolved once per run) and
org.opencontainers.image.base.digest (the base it was built on). Every platform
is rebased onto the new base's image for that same platform; everything but the
base's layers, diff_ids, history and the base.digest annotation is kept. The
result is pushed by digest into the image's own repository only.

OUTPUT
   repo@sha256:OLD          ->  repo@sha256:NEW
   repo:tag@sha256:OLD      ->  repo:tag@sha256:NEW
   repo:tag                 ->  repo:tag@sha256:NEW
   An image already on its current base, skipped or failed is echoed byte for
   byte, so the output is always safe to apply. Blank and # lines are echoed.
   Rebasing the output again changes nothing.

EXAMPLES
   # The pipeline: rebase every image of a release and rewrite the YAML.
   ko-extract -f release.yaml | crane-rebase-stream - | ko-rewrite -f release.yaml --images - > rebased.yaml

   # Preview: compute the digests a rebase would push, push nothing.
   ko-extract -f release.yaml | crane-rebase-stream --dry-run - | ko-rewrite -f release.yaml --images - | diff release.yaml -

   # One image, with a JSON report of what happened per platform.
   echo ghcr.io/me/app:v1 | crane-rebase-stream --report report.json

   # Images built without base annotations (crane rebase's flags).
   crane-rebase-stream --old-base gcr.io/distroless/static@sha256:... --new-base gcr.io/distroless/static:nonroot images.txt

STDERR
   REF: skipped: REASON      not rebased, not an error (no base annotations, base pinned by digest)
   REF: error: REASON        failed; the line was echoed unchanged
   REF: warning: MESSAGE     e.g. a dropped attestation child, signatures left on the old digest
   rebased N, up to date N, skipped N, failed N      the summary, always last

EXIT STATUS
   0 every line was rebased, up to date, skipped or blank; 1 a line failed (with
   --strict, skips count as failures); 2 bad usage or unreadable input/output;
   130 (SIGINT) or 143 (SIGTERM) interrupted: no new line is taken, the images
   in flight get 10s to finish (a second signal abandons them), and every line
   read so far is answered, unfinished ones echoed.

REGISTRIES
   Credentials come, as for ko and in ko's order, from Amazon ECR's helper
   (AWS environment), the docker config (docker login, credential helpers;
   $DOCKER_CONFIG), Google (gcloud, application default credentials), GitHub
   ($GITHUB_TOKEN for ghcr.io) and Azure ACR (AZURE_* environment); never from
   flags, and never printed, not even with -v.
   TLS is verified; plain HTTP is used only for localhost/loopback registries,
   or with --insecure. 5xx/429 answers and broken connections are retried with
   backoff (1s, 3s); an upload cut in the middle starts a new upload session.
   --timeout (default 10m) bounds each image, retries included. At most
   --max-requests (16) requests are in flight to one registry host at once.`,
		HideVersion:     true,
		ExitErrHandler:  func(*cli.Context, error) {}, // runMain turns errors into exit statuses
		HideHelpCommand: true,
		OnUsageError:    cmdline.UsageError,
		Flags: append([]cli.Flag{
			&cli.IntFlag{Name: "jobs", Aliases: []string{"j"}, Value: 8, Usage: "rebase up to `N` images at once"},
			&cli.BoolFlag{Name: "dry-run", Usage: "compute and print the rebased digests, push nothing"},
			&cli.BoolFlag{Name: "strict", Usage: "treat skipped images and skipped platforms of an index (no base annotations, pinned base) as failures"},
			&cli.StringFlag{Name: "old-base", Usage: "the base the images were built on (`REF`), overriding their annotations; needs --new-base"},
			&cli.StringFlag{Name: "new-base", Usage: "the base to move them to (`REF`), overriding their annotations; needs --old-base. The results record it as their base.name"},
			&cli.BoolFlag{Name: "tag", Usage: "also move the input's tag to the rebased image (default: push by digest only)"},
			&cli.BoolFlag{Name: "insecure", Usage: "allow plain HTTP to any registry (default: loopback only)"},
			&cli.StringFlag{Name: "report", Usage: "write a JSON report to `FILE`: per image input, output, action, per-platform old/new base, error"},
			&cli.DurationFlag{Name: "timeout", Value: defaultTimeout, Usage: "give up on an image after `DURATION`, retries included; 0 for no limit"},
			&cli.IntFlag{Name: "max-requests", Value: rebase.DefaultMaxRequests, Usage: "have at most `N` requests in flight to each registry host, for the whole run"},
			&cli.BoolFlag{Name: "no-referrers", Usage: "do not look for signatures/attestations on the old digests of rebased images"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "say what happens to every image"},
			cmdline.VersionFlag(),
		}, cmdline.DocFlags()...),
		EnableBashCompletion: true,
		Action:               func(c *cli.Context) error { return run(intr, c) },
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
	if c.NArg() > 1 {
		return cli.Exit(fmt.Sprintf("want at most one input (FILE or -), got %d; see --help", c.NArg()), exitUsage)
	}
	if (c.String("old-base") == "") != (c.String("new-base") == "") {
		return cli.Exit("--old-base and --new-base go together", exitUsage)
	}
	if c.Int("jobs") < 1 {
		return cli.Exit("--jobs must be at least 1", exitUsage)
	}
	if c.Int("max-requests") < 1 {
		return cli.Exit("--max-requests must be at least 1", exitUsage)
	}
	if c.Duration("timeout") < 0 {
		return cli.Exit("--timeout must not be negative (0 means no limit)", exitUsage)
	}
	for _, f := range []string{"old-base", "new-base"} {
		if v := c.String(f); v != "" {
			if _, err := name.ParseReference(v); err != nil {
				return cli.Exit(fmt.Sprintf("--%s %q: %v", f, v, err), exitUsage)
			}
		}
	}
	// Check the report can be written before any image is pushed.
	if rep := c.String("report"); rep != "" {
		f, err := os.OpenFile(rep, os.O_WRONLY|os.O_CREATE, 0o644)
		if err != nil {
			return cli.Exit(fmt.Sprintf("--report: %v", err), exitUsage)
		}
		f.Close()
	}
	in := c.App.Reader
	if name := c.Args().First(); name != "" && name != "-" {
		f, err := openInput(name)
		if err != nil {
			return cli.Exit(err.Error(), exitUsage)
		}
		defer f.Close()
		in = f
	} else if cmdline.IsTerminal(in) {
		fmt.Fprintf(stderr, "crane-rebase-stream: %s\n", stdinHint)
	}

	verbose := c.Bool("verbose")
	opts := []rebase.Option{
		rebase.WithJobs(c.Int("jobs")),
		rebase.WithMaxRequests(c.Int("max-requests")),
		rebase.WithDryRun(c.Bool("dry-run")),
		rebase.WithStrict(c.Bool("strict")),
		rebase.WithTag(c.Bool("tag")),
		rebase.WithInsecure(c.Bool("insecure")),
		rebase.WithTimeout(c.Duration("timeout")),
		rebase.WithReferrers(!c.Bool("no-referrers")),
		rebase.WithUserAgent("rebasekit/crane-rebase-stream " + version()),
		rebase.WithStop(intr.stop),
		rebase.WithKeychain(keychain()),
	}
	if c.String("old-base") != "" {
		opts = append(opts, rebase.WithOldBase(c.String("old-base")), rebase.WithNewBase(c.String("new-base")))
	}
	if verbose {
		opts = append(opts, rebase.WithLogger(log.New(stderr, "crane-rebase-stream: ", 0)))
	}

	p := newProgress(stderr)
	if name := c.Args().First(); name != "" && name != "-" && p.on {
		p.total = countLines(name)
	}
	yamlHinted := false
	sum, err := rebase.New(opts...).Stream(intr.ctx, in, c.App.Writer, func(line int, res rebase.Result) {
		p.clear()
		if res.Action == rebase.Failed && res.Reason == "not an image reference" {
			// YAML piped in by mistake draws one hint, not a line each.
			switch {
			case yamlHinted && looksLikeYAML(res.Input):
			case looksLikeYAML(res.Input):
				yamlHinted = true
				fmt.Fprintf(stderr, "crane-rebase-stream: line %d: %q: %s\n", line, clip(res.Input), yamlHint)
			default:
				fmt.Fprintf(stderr, "crane-rebase-stream: line %d: %q: error: not an image reference\n", line, clip(res.Input))
			}
		} else if errors.Is(res.Err, rebase.ErrLineTooLong) {
			fmt.Fprintf(stderr, "crane-rebase-stream: line %d: error: %s\n", line, res.Reason)
		} else if res.Action == rebase.Failed {
			for _, l := range splitLines(failureLines(res, verbose)) {
				fmt.Fprintf(stderr, "crane-rebase-stream: %s\n", l)
			}
		} else if msg := res.Message(verbose); msg != "" {
			for _, l := range splitLines(msg) {
				fmt.Fprintf(stderr, "crane-rebase-stream: %s\n", l)
			}
		}
		p.update(line, res)
	})
	p.clear()
	fmt.Fprintf(stderr, "crane-rebase-stream: %s\n", sum)
	if rep := c.String("report"); rep != "" {
		if werr := writeReport(rep, sum); werr != nil {
			return cli.Exit(fmt.Sprintf("writing report: %v", werr), exitUsage)
		}
	}
	switch {
	case err != nil:
		return cli.Exit(err.Error(), exitUsage)
	case intr.signal() != nil:
		return cli.Exit("interrupted: every line read was answered (unfinished ones echoed)", exitCode(intr.signal()))
	case !sum.OK():
		return cli.Exit("", exitFailed)
	}
	return nil
}

func writeReport(path string, sum rebase.Summary) error {
	b, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// clip shortens a line quoted in a message: a runaway input line must not
// flood stderr.
func clip(s string) string {
	const max = 200
	if len(s) <= max {
		return s
	}
	return s[:max] + fmt.Sprintf("... (%d bytes)", len(s))
}

func splitLines(s string) []string {
	var out []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		out = append(out, s[:i])
		if i < len(s) {
			i++
		}
		s = s[i:]
	}
	return out
}

func version() string { return cmdline.Version() }
