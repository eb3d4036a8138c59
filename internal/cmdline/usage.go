// Package cmdline holds the command-line conventions the three binaries
// share: usage errors and exit statuses, interrupts (SIGINT, SIGTERM: their
// words and statuses), flag errors worded for a person,
// "PROG help" and "PROG version", --version and the version string, the
// hidden man-page and completion flags, and terminal checks.
package cmdline

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/urfave/cli/v2"
	"github.com/xrash/smetrics"
	"golang.org/x/term"
)

// Exit statuses shared by the three binaries.
const (
	ExitFailed      = 1   // the work failed (invalid input, a refusal, a failed line)
	ExitUsage       = 2   // bad command line: flags, arguments, their values
	ExitInterrupted = 128 // + the signal: 130 for SIGINT, 143 for SIGTERM
)

// StatusError carries the exit status an error should end the process with.
// It deliberately does not implement cli.ExitCoder: urfave/cli would call
// os.Exit itself, from inside Run, where tests run the app.
type StatusError struct {
	Code int
	Err  error
}

func (e *StatusError) Error() string { return e.Err.Error() }
func (e *StatusError) Unwrap() error { return e.Err }

// Usage marks err as a usage error: exit status 2.
func Usage(err error) error {
	if err == nil {
		return nil
	}
	return &StatusError{Code: ExitUsage, Err: err}
}

// Usagef is Usage(fmt.Errorf(format, args...)).
func Usagef(format string, args ...any) error { return Usage(fmt.Errorf(format, args...)) }

// Status is the exit status for err: 0 for nil, a StatusError's code, else 1.
func Status(err error) int {
	if err == nil {
		return 0
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code
	}
	return ExitFailed
}

// Exit prints err, prefixed with the program name, on stderr and exits with
// its status. A nil err exits 0.
func Exit(prog string, err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", prog, err)
	}
	os.Exit(Status(err))
}

// UsageError reports a bad command line without printing the help to
// stdout: stdout is the data stream of a pipeline, and help text there would
// be read as references (or land in the rewritten YAML). It says what to do
// next: the flag meant for a mistyped one, the form a duration takes.
// The error is a usage error (exit status 2).
func UsageError(c *cli.Context, err error, _ bool) error {
	return Usage(fmt.Errorf("%s (see --help)", explainFlagError(c, err)))
}

var (
	undefinedFlag = regexp.MustCompile(`^flag provided but not defined: -+(.+)$`)
	invalidValue  = regexp.MustCompile(`^invalid value "(.*)" for flag -+([^:]+): `)
)

// explainFlagError rewords the flag package's errors for a person.
func explainFlagError(c *cli.Context, err error) string {
	msg := err.Error()
	if m := undefinedFlag.FindStringSubmatch(msg); m != nil {
		given := m[1]
		dash := "--"
		if len(given) == 1 {
			dash = "-"
		}
		s := fmt.Sprintf("unknown flag %s%s", dash, given)
		if best := suggestFlag(given, appFlags(c)); best != "" {
			s += fmt.Sprintf(": did you mean %s?", dashed(best))
		}
		return s
	}
	if m := invalidValue.FindStringSubmatch(msg); m != nil {
		val, fname := m[1], m[2]
		if f := findFlag(c, fname); f != nil {
			if _, ok := f.(*cli.DurationFlag); ok {
				return fmt.Sprintf("%s %q is not a duration: give a number with a unit, like 30s, 10m or 1h30m", dashed(fname), val)
			}
			if _, ok := f.(*cli.IntFlag); ok {
				return fmt.Sprintf("%s %q is not a whole number", dashed(fname), val)
			}
		}
		return fmt.Sprintf("%s %q: invalid value", dashed(fname), val)
	}
	if rest, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return fmt.Sprintf("%s needs a value", dashed(strings.TrimLeft(rest, "-")))
	}
	return msg
}

func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// appFlags are the flags of c's app, or none.
func appFlags(c *cli.Context) []cli.Flag {
	if c == nil || c.App == nil {
		return nil
	}
	return c.App.Flags
}

func findFlag(c *cli.Context, name string) cli.Flag {
	if c == nil || c.App == nil {
		return nil
	}
	for _, f := range c.App.Flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

// suggestFlag picks the flag a mistyped one most likely meant: the same
// long name with '_' for '-', without the dashes or in another case
// (crane's --old_base, --dryrun), else urfave/cli's own suggestion
// (cli.SuggestFlag, by Jaro-Winkler similarity) when it is close enough:
// cli suggests its nearest flag however far, and a flag that is no typo
// of ours (--frobnicate) must get no suggestion.
func suggestFlag(given string, flags []cli.Flag) string {
	norm := func(s string) string {
		return strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(s))
	}
	for _, f := range flags {
		for _, n := range f.Names() {
			if len(n) > 1 && norm(n) == norm(given) {
				return n
			}
		}
	}
	if cli.SuggestFlag == nil { // built with urfave_cli_no_suggest
		return ""
	}
	given = strings.ToLower(given)
	best := strings.TrimLeft(cli.SuggestFlag(flags, given, false), "-")
	// The similarity cli ranks by, with its parameters (suggestions.go).
	if best == "" || smetrics.JaroWinkler(best, given, 0.7, 4) < minSimilarity {
		return ""
	}
	return best
}

// minSimilarity is the Jaro-Winkler similarity from which a flag is
// suggested: a letter left out, doubled, swapped or mistyped in a name
// scores over 0.9; an unrelated word under 0.75.
const minSimilarity = 0.85

// HelpVersionWords turns `PROG help` and `PROG version`, the only argument,
// into --help and --version, as crane, ko and kubectl users type them. A file
// so named is still read as ./help.
func HelpVersionWords(args []string) []string {
	if len(args) == 2 {
		switch args[1] {
		case "help":
			return []string{args[0], "--help"}
		case "version":
			return []string{args[0], "--version"}
		}
	}
	return args
}

// VersionFlag is --version, long only: -v is --verbose in all three tools.
func VersionFlag() cli.Flag {
	return &cli.BoolFlag{Name: "version", Usage: "print the version and exit"}
}

// VerboseFlag is -v/--verbose.
func VerboseFlag(usage string) cli.Flag {
	return &cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: usage}
}

// PrintVersion prints "PROG version V" on stdout.
func PrintVersion(c *cli.Context) {
	fmt.Fprintln(c.App.Writer, c.App.Name, "version", Version())
}

// IsTerminal reports whether r is a terminal, the case where a person, not
// a pipe, is expected to type the input. A character device is not enough:
// /dev/null is one, and it is a cron job's or a CI step's stdin.
func IsTerminal(r any) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	// The descriptor through SyscallConn: f.Fd would put f in blocking mode.
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	is := false
	if rc.Control(func(fd uintptr) { is = term.IsTerminal(int(fd)) }) != nil {
		return false
	}
	return is
}

// Selected is the -v line for one selection: FILE:LINE:COL: rule RULE: REF.
func Selected(prog, file string, line, col int, rule, ref string) string {
	return fmt.Sprintf("%s: %s:%d:%d: %s: %s", prog, file, line, col, rule, ref)
}
