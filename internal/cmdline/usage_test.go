package cmdline

import (
	"errors"
	"fmt"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestSuggestFlag(t *testing.T) {
	flags := []cli.Flag{
		&cli.IntFlag{Name: "jobs", Aliases: []string{"j"}},
		&cli.BoolFlag{Name: "dry-run"},
		&cli.BoolFlag{Name: "strict"},
		&cli.StringFlag{Name: "old-base"},
		&cli.StringFlag{Name: "new-base"},
		&cli.BoolFlag{Name: "tag"},
		&cli.DurationFlag{Name: "timeout"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}},
		&cli.BoolFlag{Name: "version"},
	}
	for _, tc := range []struct{ given, want string }{
		{"dryrun", "dry-run"},
		{"old_base", "old-base"},
		{"OLD-BASE", "old-base"},
		{"Dry-Rnu", "dry-run"},
		{"stirct", "strict"},
		{"verbos", "verbose"},
		{"timout", "timeout"},
		{"jbs", "jobs"},
		{"jbos", "jobs"},
		{"hlep", "help"},
		{"frobnicate", ""},
		{"x", ""},
		{"ag", ""}, // too short to tell: Jaro-Winkler finds no common letter in place
	} {
		if got := suggestFlag(tc.given, flags); got != tc.want {
			t.Errorf("suggestFlag(%q) = %q, want %q", tc.given, got, tc.want)
		}
	}
}

func TestStatus(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("x"), 1},
		{Usagef("bad"), 2},
		{fmt.Errorf("wrapped: %w", Usagef("bad")), 2},
		{&StatusError{Code: 130, Err: errors.New("interrupted")}, 130},
	} {
		if got := Status(tc.err); got != tc.want {
			t.Errorf("Status(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestHelpVersionWords(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{[]string{"p", "help"}, []string{"p", "--help"}},
		{[]string{"p", "version"}, []string{"p", "--version"}},
		{[]string{"p", "./help"}, []string{"p", "./help"}},
		{[]string{"p", "-v", "help"}, []string{"p", "-v", "help"}},
	} {
		if got := HelpVersionWords(tc.in); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%q -> %q, want %q", tc.in, got, tc.want)
		}
	}
}
