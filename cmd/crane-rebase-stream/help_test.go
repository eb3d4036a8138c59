package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rebasekit/rebasekit/internal/ptytest"
)

// --help shows one default a flag, and --pairs, a switch, takes no
// argument: urfave/cli adds "(default: false)" after a usage that already
// said its default, and reads a `quoted` word as the flag's argument.
func TestHelpFlagLines(t *testing.T) {
	_, out, errs := runCmd(t, "", "--help")
	help := out + errs
	// The padding between a flag and its usage follows the longest flag.
	for _, want := range [][2]string{
		{"--tag", "also move the input's tag to the rebased image, while it still names the image rebased (default: push by digest only)"},
		{"--insecure", "allow plain HTTP to any registry (default: loopback only)"},
		{"--pairs", "print \"OLD NEW\" for each reference (\"OLD OLD\" when not rebased), the form ko-rewrite --images takes and several runs' outputs concatenate into (default: false)"},
		{"--keep-config", "keep each image's config (User, Env, Labels, Entrypoint...) exactly as it is, as crane rebase does (default: what the image inherited from the old base follows the new base)"},
	} {
		if !regexp.MustCompile(`(?m)^   ` + regexp.QuoteMeta(want[0]) + ` +` + regexp.QuoteMeta(want[1]) + `$`).MatchString(help) {
			t.Errorf("--help lacks the line %q:\n%s", want[0]+" "+want[1], help)
		}
	}
}

// The man page's SYNOPSIS ends with the input argument.
func TestManPageSynopsisHasTheInput(t *testing.T) {
	code, man, errs := runCmd(t, "", "--generate-man-page")
	want := ".SH SYNOPSIS\ncrane-rebase-stream\n\n.EX\n[--dry-run]\n"
	end := "[--version]\n[FILE|-]\n.EE\n"
	if code != 0 || !strings.Contains(man, want) || !strings.Contains(man, end) {
		t.Errorf("exit %d, stderr %q; SYNOPSIS:\n%s", code, errs, man[:min(len(man), 900)])
	}
}

// A dry run pushes nothing: its summary says what it would do.
func TestDryRunSummarySaysWouldRebase(t *testing.T) {
	reg, app1, _, plain := setup(t)
	in := app1 + "\n" + plain + "\n"
	reg.Reset()
	_, _, errs := runCmd(t, in, "--dry-run")
	if want := "crane-rebase-stream: would rebase 1, up to date 0, skipped 1, failed 0\n"; !strings.HasSuffix(errs, want) {
		t.Errorf("dry run: stderr %q, want it to end with %q", errs, want)
	}
	_, _, errs = runCmd(t, in)
	if want := "crane-rebase-stream: rebased 1, up to date 0, skipped 1, failed 0\n"; !strings.HasSuffix(errs, want) {
		t.Errorf("real run: stderr %q, want it to end with %q", errs, want)
	}
}

// Standard input on /dev/null (cron, CI) is a character device but no
// terminal: no "Ctrl-D ends it" hint, only the summary.
func TestNoStdinHintOnDevNull(t *testing.T) {
	bin := ptytest.Build(t, "crane-rebase-stream")
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	cmd := exec.Command(bin)
	cmd.Stdin = null
	cmd.Dir = filepath.Dir(bin)
	out, err := cmd.CombinedOutput()
	if want := "crane-rebase-stream: rebased 0, up to date 0, skipped 0, failed 0\n"; err != nil || string(out) != want {
		t.Errorf("err %v, output %q, want %q", err, out, want)
	}
}
