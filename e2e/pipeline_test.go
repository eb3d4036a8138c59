package e2e

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// report is the part of crane-rebase-stream's --report this test reads.
type report struct {
	Rebased, UpToDate, Skipped, Failed int
	Images                             []struct {
		Input, Output, Action, Reason string
		Platforms                     []struct {
			Platform, Action, OldBase, NewBase string
		}
	}
}

func readReport(t *testing.T, path string) report {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, b)
	}
	return r
}

// TestRebasePipeline is the story of a scheduled rebase job: ko built two apps
// on base:stable (v1), base:stable moved to v2, and the pipeline runs.
// The steps share one work directory and run in order.
func TestRebasePipeline(t *testing.T) {
	need(t)
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "release.yaml"), suite.release, 0o644); err != nil {
		t.Fatal(err)
	}
	hello, greeter := suite.apps["hello"], suite.apps["greeter"]

	t.Run("extract selects our images only", func(t *testing.T) {
		p := shell(t, dir, "ko-extract -f release.yaml")
		if p.code != 0 || p.stdout != hello+"\n"+greeter+"\n" {
			t.Fatalf("ko-extract printed %q (exit %d), want hello then greeter, once each, and not nginx", p.stdout, p.code)
		}
	})

	// A dry run computes the digests a real run will push, and pushes nothing.
	var planned string
	t.Run("dry run pushes nothing", func(t *testing.T) {
		before, err := suite.reg.snapshot()
		if err != nil {
			t.Fatal(err)
		}
		p := shell(t, dir, "ko-extract -f release.yaml | crane-rebase-stream --dry-run -")
		if p.code != 0 {
			t.Fatalf("exit %d", p.code)
		}
		planned = p.stdout
		if lines := strings.Split(strings.TrimSuffix(planned, "\n"), "\n"); len(lines) != 2 ||
			!strings.HasPrefix(lines[0], suite.host+"/apps/hello@sha256:") || lines[0] == hello ||
			!strings.HasPrefix(lines[1], suite.host+"/apps/greeter@sha256:") || lines[1] == greeter {
			t.Fatalf("dry run printed %q, want two new digests of hello and greeter", planned)
		}
		after, err := suite.reg.snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(before, after) {
			t.Errorf("--dry-run wrote to the registry storage: %s", snapshotDiff(before, after))
		}
	})

	var rebased []byte
	t.Run("rebase", func(t *testing.T) {
		p := shell(t, dir, "ko-extract -f release.yaml"+
			" | crane-rebase-stream --report report.json -"+
			" | tee images.txt"+
			" | ko-rewrite -f release.yaml --images - > rebased.yaml")
		if p.code != 0 {
			t.Fatalf("pipeline exit %d", p.code)
		}
		if got := summaryLine(p.stderr); got != "rebased 2, up to date 0, skipped 0, failed 0" {
			t.Errorf("summary %q", got)
		}
		images, err := os.ReadFile(filepath.Join(dir, "images.txt"))
		if err != nil {
			t.Fatal(err)
		}
		if planned != "" && string(images) != planned {
			t.Errorf("the real run pushed\n%s\nthe dry run planned\n%s", images, planned)
		}
		if rebased, err = os.ReadFile(filepath.Join(dir, "rebased.yaml")); err != nil {
			t.Fatal(err)
		}
		newHello, err := findRef(rebased, suite.host+"/apps/hello")
		if err != nil {
			t.Fatal(err)
		}
		newGreeter, err := findRef(rebased, suite.host+"/apps/greeter")
		if err != nil {
			t.Fatal(err)
		}
		if string(images) != newHello+"\n"+newGreeter+"\n" {
			t.Errorf("crane-rebase-stream printed %q; the YAML got %s and %s", images, newHello, newGreeter)
		}
		// ko resolve's output with only the two references' bytes changed:
		// greeter twice (flow-style args and a ConfigMap value), nginx kept.
		onlyRefsChanged(t, suite.release, rebased, map[string]string{hello: newHello, greeter: newGreeter})
		if strings.Count(string(rebased), newGreeter) != 2 || !strings.Contains(string(rebased), "image: docker.io/library/nginx:1.27\n") {
			t.Errorf("rebased.yaml:\n%s", rebased)
		}

		t.Run("hello", func(t *testing.T) { checkRebased(t, "hello", hello, newHello, suite.baseV1, suite.baseV2) })
		t.Run("greeter", func(t *testing.T) { checkRebased(t, "greeter", greeter, newGreeter, suite.baseV1, suite.baseV2) })

		t.Run("report", func(t *testing.T) {
			checkReport(t, readReport(t, filepath.Join(dir, "report.json")),
				[][2]string{{hello, newHello}, {greeter, newGreeter}})
		})

		t.Run("old images and tags untouched", func(t *testing.T) {
			// Pushed by digest only: ko's :latest tags still name the
			// images ko built, which are still there.
			state, err := suite.reg.apiState(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for app, old := range map[string]string{"hello": hello, "greeter": greeter} {
				remoteIndex(t, old)
				if got, want := state["apps/"+app+":latest"], old[strings.Index(old, "@")+1:]; got != want {
					t.Errorf("apps/%s:latest = %s, want ko's %s (no --tag)", app, got, want)
				}
			}
		})
	})

	t.Run("second run pushes nothing", func(t *testing.T) {
		if rebased == nil {
			t.Skip("the rebase failed")
		}
		files, err := suite.reg.snapshot()
		if err != nil {
			t.Fatal(err)
		}
		state, err := suite.reg.apiState(ctx)
		if err != nil {
			t.Fatal(err)
		}
		p := shell(t, dir, "ko-extract -f rebased.yaml"+
			" | crane-rebase-stream --report again.json -"+
			" | ko-rewrite -f rebased.yaml --images - > again.yaml")
		if p.code != 0 {
			t.Fatalf("pipeline exit %d", p.code)
		}
		if got := summaryLine(p.stderr); got != "rebased 0, up to date 2, skipped 0, failed 0" {
			t.Errorf("summary %q", got)
		}
		again, err := os.ReadFile(filepath.Join(dir, "again.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if string(again) != string(rebased) {
			t.Errorf("second run changed the YAML:\n%s", again)
		}
		for _, img := range readReport(t, filepath.Join(dir, "again.json")).Images {
			if img.Action != "up-to-date" || img.Output != img.Input {
				t.Errorf("report: %s -> %s %s, want up-to-date and echoed", img.Input, img.Output, img.Action)
			}
		}
		files2, err := suite.reg.snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(files, files2) {
			t.Errorf("second run wrote to the registry storage: %s", snapshotDiff(files, files2))
		}
		state2, err := suite.reg.apiState(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(state, state2) {
			t.Errorf("second run changed repositories or tags:\n%v\n%v", state, state2)
		}
	})
}

// checkReport checks the --report of the rebase: each image rebased from
// base v1 to base v2, platform by platform, in input order.
func checkReport(t *testing.T, r report, rebased [][2]string) {
	t.Helper()
	if r.Rebased != len(rebased) || r.Failed != 0 || len(r.Images) != len(rebased) {
		t.Fatalf("report: rebased %d, failed %d, %d images; want %d rebased", r.Rebased, r.Failed, len(r.Images), len(rebased))
	}
	v1Descs, _ := platformImages(t, suite.baseV1)
	v2Descs, _ := platformImages(t, suite.baseV2)
	for i, img := range r.Images {
		if img.Input != rebased[i][0] || img.Output != rebased[i][1] || img.Action != "rebased" {
			t.Errorf("report image %d: %s -> %s (%s), want %s -> %s rebased", i, img.Input, img.Output, img.Action, rebased[i][0], rebased[i][1])
		}
		if len(img.Platforms) != len(rebasetest.BaseIndexPlatforms) {
			t.Errorf("report %s: %d platforms", img.Input, len(img.Platforms))
			continue
		}
		for j, p := range img.Platforms {
			if p.Platform != v1Descs[j].Platform.String() || p.Action != "rebased" ||
				p.OldBase != v1Descs[j].Digest.String() || p.NewBase != v2Descs[j].Digest.String() {
				t.Errorf("report %s platform %d: %+v, want %s rebased from %s to %s",
					img.Input, j, p, v1Descs[j].Platform, v1Descs[j].Digest, v2Descs[j].Digest)
			}
		}
	}
}

// snapshotDiff names the files that appeared, vanished or changed.
func snapshotDiff(a, b map[string]string) string {
	var d []string
	for k, v := range b {
		if a[k] != v {
			d = append(d, "+"+k)
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			d = append(d, "-"+k)
		}
	}
	if len(d) > 20 {
		d = append(d[:20], "...")
	}
	return strings.Join(d, " ")
}
