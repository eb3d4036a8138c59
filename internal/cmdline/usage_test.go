package cmdline

import (
	"errors"
	"fmt"
	"testing"
)

func TestSuggestFlag(t *testing.T) {
	names := []string{"jobs", "j", "dry-run", "strict", "old-base", "new-base", "tag", "timeout", "verbose", "v", "version", "help"}
	for _, tc := range []struct{ given, want string }{
		{"dryrun", "dry-run"},
		{"old_base", "old-base"},
		{"OLD-BASE", "old-base"},
		{"stirct", "strict"},
		{"verbos", "verbose"},
		{"timout", "timeout"},
		{"jbs", "jobs"},
		{"frobnicate", ""},
		{"x", ""},
		{"ag", "tag"},
	} {
		if got := suggestFlag(tc.given, names); got != tc.want {
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
