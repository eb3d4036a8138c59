package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// -v lists the config fields that followed the base (the fixture bases
// differ in their BASE_VERSION variable), --report has them, and
// --keep-config keeps the config as it was: another digest, no change
// listed.
func TestConfigChangesShown(t *testing.T) {
	_, app1, _, _ := setup(t)
	report := filepath.Join(t.TempDir(), "report.json")
	code, merged, errs := runCmd(t, app1+"\n", "-v", "--dry-run", "--report", report)
	if code != 0 {
		t.Fatalf("exit %d; stderr %s", code, errs)
	}
	for _, p := range []string{"linux/amd64", "linux/arm64/v8"} {
		if want := app1 + ":   " + p + `: config Env BASE_VERSION "v1" -> "v2"` + "\n"; !strings.Contains(errs, want) {
			t.Errorf("-v does not list the change %q:\n%s", want, errs)
		}
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	// The report is indented JSON: compare without the white space.
	flat := strings.Join(strings.Fields(string(b)), "")
	if want := `"config":[{"field":"Env","key":"BASE_VERSION","old":"v1","new":"v2"}]`; strings.Count(flat, want) != 2 {
		t.Errorf("report does not list %s for both platforms:\n%s", want, b)
	}

	code, kept, errs := runCmd(t, app1+"\n", "-v", "--dry-run", "--keep-config", "--report", report)
	if code != 0 {
		t.Fatalf("--keep-config: exit %d; stderr %s", code, errs)
	}
	if kept == merged || !strings.HasPrefix(kept, strings.SplitN(app1, "@", 2)[0]+"@sha256:") {
		t.Errorf("--keep-config gave %q, the merge %q: want another rebased digest", kept, merged)
	}
	if strings.Contains(errs, ": config ") {
		t.Errorf("--keep-config lists config changes:\n%s", errs)
	}
	if b, _ := os.ReadFile(report); strings.Contains(string(b), `"config"`) {
		t.Errorf("--keep-config report lists config changes:\n%s", b)
	}
	if _, out, _ := runCmd(t, "", "--help"); !strings.Contains(out, "--keep-config") {
		t.Errorf("--help does not mention --keep-config:\n%s", out)
	}
}
