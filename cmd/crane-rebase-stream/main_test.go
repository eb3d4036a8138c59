package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rebasekit/rebasekit/pkg/linestream"
	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

func runCmd(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = runMain(append([]string{"crane-rebase-stream"}, args...), strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// setup: base:stable moved from v1 to v2 under two apps and one app without
// annotations.
func setup(t *testing.T) (reg *rebasetest.Registry, app1, app2, plain string) {
	t.Helper()
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg = rebasetest.NewRegistry()
	t.Cleanup(reg.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := rebasetest.PushBase(ctx, reg.Ref("base:v1"), rebasetest.BaseSpec{Version: "v1"})
	must(err)
	must(rebasetest.Tag(ctx, reg.Ref("base:v1"), reg.Ref("base:stable")))
	d1, err := rebasetest.PushApp(ctx, reg.Ref("app1:v1"), rebasetest.AppSpec{Base: reg.Ref("base:stable"), Name: "one"})
	must(err)
	_, err = rebasetest.PushApp(ctx, reg.Ref("app2:v1"), rebasetest.AppSpec{Base: reg.Ref("base:stable"), Name: "two"})
	must(err)
	d3, err := rebasetest.PushApp(ctx, reg.Ref("plain:v1"), rebasetest.AppSpec{Base: reg.Ref("base:stable"), NoAnnotations: true})
	must(err)
	_, err = rebasetest.PushBase(ctx, reg.Ref("base:v2"), rebasetest.BaseSpec{Version: "v2"})
	must(err)
	must(rebasetest.Tag(ctx, reg.Ref("base:v2"), reg.Ref("base:stable")))
	return reg, reg.Ref("app1@" + d1.String()), reg.Ref("app2:v1"), reg.Ref("plain@" + d3.String())
}

func TestPipelineLines(t *testing.T) {
	reg, app1, app2, plain := setup(t)
	report := filepath.Join(t.TempDir(), "report.json")
	in := strings.Join([]string{app1, "", "not a ref", app2, plain}, "\n") + "\n"
	code, out, errs := runCmd(t, in, "-j", "2", "--report", report, "-")
	if code != 1 {
		t.Errorf("exit %d, want 1 (a line failed); stderr:\n%s", code, errs)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d lines out for 5 in:\n%s", len(lines), out)
	}
	if !strings.HasPrefix(lines[0], reg.Ref("app1@sha256:")) || lines[0] == app1 {
		t.Errorf("line 1 %q: want app1 rebased", lines[0])
	}
	if lines[1] != "" || lines[2] != "not a ref" || lines[4] != plain {
		t.Errorf("echoed lines changed: %q", lines)
	}
	if !strings.HasPrefix(lines[3], app2+"@sha256:") {
		t.Errorf("line 4 %q: want %s pinned", lines[3], app2)
	}
	for _, want := range []string{
		`line 3: "not a ref": error: not an image reference`,
		plain + ": skipped: no base annotations",
		"crane-rebase-stream: rebased 2, up to date 0, skipped 1, failed 1\n",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	if !strings.HasSuffix(errs, "failed 1\n") {
		t.Errorf("stderr does not end with the summary:\n%s", errs)
	}

	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var rep linestream.Summary
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Rebased != 2 || len(rep.Results) != 4 || rep.Results[0].Input != app1 || rep.Results[0].Output != lines[0] {
		t.Errorf("report %s", b)
	}
	if p := rep.Results[0].Platforms; len(p) != 2 || p[0].OldBase == "" || p[0].NewBase == "" || p[0].OldBase == p[0].NewBase {
		t.Errorf("report platforms %+v", p)
	}

	// Again on the output: everything up to date, exit 0, nothing pushed.
	reg.Reset()
	code, again, errs := runCmd(t, strings.Join([]string{lines[0], lines[3]}, "\n")+"\n")
	if code != 0 || again != lines[0]+"\n"+lines[3]+"\n" {
		t.Errorf("second run: exit %d, output %q; stderr %s", code, again, errs)
	}
	if w := reg.Writes(); len(w) > 0 {
		t.Errorf("second run wrote %v", w)
	}
}

func TestDryRunAndStrict(t *testing.T) {
	reg, app1, _, plain := setup(t)
	file := filepath.Join(t.TempDir(), "refs.txt")
	if err := os.WriteFile(file, []byte(app1+"\n"+plain+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	reg.Reset()
	code, dry, errs := runCmd(t, "", "--dry-run", file)
	if code != 0 {
		t.Fatalf("dry run exit %d: %s", code, errs)
	}
	if w := reg.Writes(); len(w) > 0 {
		t.Errorf("dry run wrote %v", w)
	}
	code, _, errs = runCmd(t, "", "--strict", "--dry-run", file)
	if code != 1 || !strings.Contains(errs, "failed 1") {
		t.Errorf("--strict with an unannotated image: exit %d, stderr %s", code, errs)
	}
	code, real, errs := runCmd(t, app1+"\n"+plain+"\n", "-v")
	if code != 0 || real != dry {
		t.Errorf("real run: exit %d, output %q, dry run said %q; %s", code, real, dry, errs)
	}
	if !strings.Contains(errs, app1+": rebased -> ") {
		t.Errorf("-v does not tell what was rebased:\n%s", errs)
	}
}

func TestUsage(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	for _, args := range [][]string{
		{"a", "b"},
		{"--old-base", "x"},
		{"--jobs", "0"},
		{"--max-requests", "0"},
		{filepath.Join(t.TempDir(), "missing")},
		{"--no-such-flag"},
		{"--old-base", "x:1", "--new-base", "NOT VALID"},
		{"--timeout", "-1s"},
		{"--report", filepath.Join(t.TempDir(), "no", "such", "dir", "r.json")},
	} {
		// Refused before any line is read: the input names an image that
		// would otherwise be looked up. Help text never lands on stdout.
		code, out, errs := runCmd(t, "ghcr.io/acme/app:1\n", args...)
		if code != 2 || out != "" || strings.Contains(errs, "rebased 0") {
			t.Errorf("%v: exit %d, want 2 before any work; stdout %q stderr %s", args, code, out, errs)
		}
	}
	if _, _, errs := runCmd(t, "", "--max-requests", "0"); errs != "crane-rebase-stream: --max-requests must be at least 1\n" {
		t.Errorf("--max-requests 0: stderr %q", errs)
	}
	code, out, _ := runCmd(t, "", "--help")
	if code != 0 || !strings.Contains(out, "ko-extract -f release.yaml | crane-rebase-stream - | ko-rewrite") || !strings.Contains(out, "EXIT STATUS") {
		t.Errorf("--help: exit %d\n%s", code, out)
	}
	if code, out, _ := runCmd(t, "", "--version"); code != 0 || !strings.HasPrefix(out, "crane-rebase-stream ") {
		t.Errorf("--version: exit %d %q", code, out)
	}
	// Empty input: empty output, a zero summary.
	if code, out, errs := runCmd(t, ""); code != 0 || out != "" || !strings.Contains(errs, "rebased 0, up to date 0, skipped 0, failed 0") {
		t.Errorf("empty input: exit %d %q %q", code, out, errs)
	}
}

func TestShardUsage(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	for arg, want := range map[string]string{
		"4/4": `crane-rebase-stream: --shard "4/4": the shard index I counts from 0 and must be below N: 0 to 3` + "\n",
		"1/0": `crane-rebase-stream: --shard "1/0": the shard count N must be at least 1` + "\n",
		"2":   `crane-rebase-stream: --shard "2": want I/N, shard I (counting from 0, as JOB_COMPLETION_INDEX) of N, e.g. 0/4` + "\n",
		"":    `crane-rebase-stream: --shard "": want I/N, shard I (counting from 0, as JOB_COMPLETION_INDEX) of N, e.g. 0/4` + "\n",
	} {
		code, out, errs := runCmd(t, "ghcr.io/acme/app:1\n", "--shard", arg)
		if code != 2 || out != "" || errs != want {
			t.Errorf("--shard %q: exit %d, stdout %q, stderr %q; want 2, nothing, %q", arg, code, out, errs, want)
		}
	}
}

// --pairs and --shard on lines that need no registry: blank and comment
// lines, and lines that are no reference.
func TestPairsOutput(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	code, out, _ := runCmd(t, "# images\n\nnot a ref\n", "--pairs")
	if code != 1 || out != "# images\n\nnot a ref\n" {
		t.Errorf("--pairs: exit %d, stdout %q", code, out)
	}
	// A shard prints pairs alone: no blank or comment line.
	code, out, _ = runCmd(t, "# images\n\n", "--shard", "0/2")
	if code != 0 || out != "" {
		t.Errorf("--shard 0/2: exit %d, stdout %q", code, out)
	}
}

// The report is written as the lines are answered, into a temporary file
// renamed into place at the end: it decodes as linestream.Summary, holds one
// entry per image line, and nothing else is left beside it.
func TestReportWrittenIncrementally(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	dir := t.TempDir()
	for in, want := range map[string]string{
		"":                              `{"rebased":0,"upToDate":0,"skipped":0,"failed":0,"copiedBytes":0,"images":[]}`,
		"# c\n\nnot a ref\nnot a ref\n": `{"rebased":0,"upToDate":0,"skipped":0,"failed":2,"copiedBytes":0,"images":[{"input":"not a ref","output":"not a ref","action":"failed","reason":"not an image reference","durationMs":0},{"input":"not a ref","output":"not a ref","action":"failed","reason":"not an image reference","durationMs":0}]}`,
	} {
		path := filepath.Join(dir, "report.json")
		runCmd(t, in, "--report", path)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var sum linestream.Summary
		if err := json.Unmarshal(b, &sum); err != nil {
			t.Fatalf("%q: %v\n%s", in, err, b)
		}
		if sum.Results == nil {
			sum.Results = []rebase.Result{}
		}
		for i := range sum.Results {
			sum.Results[i].DurationMs = 0
		}
		got, _ := json.Marshal(sum)
		if string(got) != want {
			t.Errorf("%q: report\n%s\nwant\n%s", in, got, want)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 1 {
			t.Errorf("%q: %d files in the report's directory, want the report alone", in, len(ents))
		}
	}
}
