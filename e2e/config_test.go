package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// TestConfigFollowsBaseKo: an app the real ko built on a base whose next
// version runs as User 65532 with a longer PATH and HOME. The rebased
// image's config takes the new base's User and HOME; the PATH ko set
// itself (the base's and /ko-app) is kept, with the warning saying the new
// base changed it too; the report lists the changes; --keep-config keeps
// the config as ko wrote it.
func TestConfigFollowsBaseKo(t *testing.T) {
	need(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, v := range []string{"v1", "v2"} {
		idx, err := buildahBase(v)
		if err != nil {
			t.Fatal(err)
		}
		for _, tag := range []string{v, "stable"}[:map[string]int{"v1": 2, "v2": 1}[v]] {
			if err := pushIndex(ctx, "kocfg/base:"+tag, idx); err != nil {
				t.Fatal(err)
			}
		}
	}
	out, err := ko(ctx, []string{"KO_DOCKER_REPO=" + suite.host + "/kocfg", "KO_DEFAULTBASEIMAGE=" + suite.host + "/kocfg/base:stable"}, "build", "./hello")
	if err != nil {
		t.Fatal(err)
	}
	app, err := findRef(out, suite.host+"/kocfg/hello")
	if err != nil {
		t.Fatal(err)
	}
	v2, err := buildahBase("v2")
	if err != nil {
		t.Fatal(err)
	}
	if err := pushIndex(ctx, "kocfg/base:stable", v2); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	report := filepath.Join(dir, "report.json")
	code, stdout, stderr := runStream(t, dir, app+"\n", "--report", report)
	if code != 0 || summaryLine(stderr) != "rebased 1, up to date 0, skipped 0, failed 0" {
		t.Fatalf("exit %d, summary %q; stderr %s", code, summaryLine(stderr), stderr)
	}
	rebased := strings.TrimSpace(stdout)
	for _, p := range []string{"linux/amd64", "linux/arm64"} {
		want := "crane-rebase-stream: " + app + `: warning: ` + p + `: config Env PATH: kept the image's "/usr/bin:/bin:/ko-app", but the new base changed it too ("/usr/bin:/bin" -> "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"): rebuild the image if it should follow` + "\n"
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks\n%s", want)
		}
	}
	for p, pm := range platformManifests(t, ctx, rebased) {
		cf, err := remoteImage(t, ctx, pm.ref).ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		wantEnv := []string{"PATH=/usr/bin:/bin:/ko-app", "HOME=/home/nonroot", "KO_DATA_PATH=/var/run/ko"}
		if cf.Config.User != "65532" || !slices.Equal(cf.Config.Env, wantEnv) || !slices.Equal(cf.Config.Entrypoint, []string{"/ko-app/hello"}) {
			t.Errorf("%s: config %+v, want User 65532, Env %q and ko's entrypoint", p, cf.Config, wantEnv)
		}
	}
	if err := rebasetest.Verify(ctx, rebased); err != nil {
		t.Error(err)
	}
	var rep struct {
		Images []struct {
			Platforms []struct {
				Platform string
				Config   []struct{ Field, Key, Old, New string }
			}
		}
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Images) != 1 || len(rep.Images[0].Platforms) != 2 {
		t.Fatalf("report %s", b)
	}
	for _, p := range rep.Images[0].Platforms {
		var got []string
		for _, c := range p.Config {
			got = append(got, c.Field+" "+c.Key+" "+c.Old+" -> "+c.New)
		}
		if want := []string{"User   -> 65532", "Env HOME  -> /home/nonroot"}; !slices.Equal(got, want) {
			t.Errorf("%s: report lists config changes %q, want %q", p.Platform, got, want)
		}
	}

	// --keep-config: ko's config as it was (a dry run computes the digest).
	code, kept, stderr := runStream(t, dir, app+"\n", "--dry-run", "--keep-config")
	if code != 0 || strings.TrimSpace(kept) == rebased || strings.Contains(stderr, "config Env PATH") {
		t.Errorf("--keep-config: exit %d, output %q (the merge gave %s); stderr %s", code, kept, rebased, stderr)
	}
	// Again on the output: up to date.
	if code, again, stderr := runStream(t, dir, stdout); code != 0 || again != stdout {
		t.Errorf("second run: exit %d, output %q; stderr %s", code, again, stderr)
	}
}
