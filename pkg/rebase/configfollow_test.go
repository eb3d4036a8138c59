package rebase_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// reconfigure replaces the config of the single-platform image repo:tag
// with edit's version of it and moves the tag to the result.
func (w *world) reconfigure(repo, tag string, edit func(cfg map[string]any)) {
	w.t.Helper()
	ref := w.ref(repo + ":" + tag)
	d := w.get(ref)
	m := w.manifest(ref)
	cfg := editJSON(w.t, w.rawConfig(ref, m), edit)
	cd := w.putBlob(repo, cfg)
	raw := editJSON(w.t, d.Manifest, func(mm map[string]any) {
		c := mm["config"].(map[string]any)
		c["digest"], c["size"] = cd.String(), len(cfg)
	})
	moved := w.putManifest(repo, raw, d.MediaType)
	w.tag(strings.TrimPrefix(moved, w.ref("")), repo+":"+tag)
}

// configOf is the "config" object of an image config, generically.
func configOf(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var c struct {
		Config map[string]any `json:"config"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c.Config
}

func setConfig(cfg map[string]any, kv ...any) {
	c, _ := cfg["config"].(map[string]any)
	if c == nil {
		c = map[string]any{}
		cfg["config"] = c
	}
	for i := 0; i < len(kv); i += 2 {
		c[kv[i].(string)] = kv[i+1]
	}
}

// configWorld: base:v1 (one platform, User 0, a short PATH, a version
// label), an app ko-built on it whose PATH the image changed itself (ko
// appends /ko-app), then base:v2 with User 65532, a longer PATH, HOME and
// label version 2. It returns the app.
func configWorld(t *testing.T) (*world, string) {
	w := newWorld(t)
	single := rebasetest.BaseSpec{Single: true, Platforms: []v1.Platform{amd64}}
	w.base("base", "v1", single)
	w.reconfigure("base", "v1", func(c map[string]any) {
		setConfig(c, "User", "0", "Env", []any{"PATH=/usr/bin:/bin", "LANG=C"},
			"Labels", map[string]any{"org.opencontainers.image.version": "1"})
	})
	w.tag("base:v1", "base:stable")
	app := w.app("app", rebasetest.AppSpec{Base: "base:stable", Platforms: []v1.Platform{amd64}})
	w.tag(strings.TrimPrefix(app, w.ref("")), "app:latest")
	w.reconfigure("app", "latest", func(c map[string]any) {
		env := c["config"].(map[string]any)["Env"].([]any)
		env[0] = "PATH=/usr/bin:/bin:/ko-app"
	})
	app = w.ref("app@" + w.get(w.ref("app:latest")).Digest.String())
	w.base("base", "v2", single)
	w.reconfigure("base", "v2", func(c map[string]any) {
		setConfig(c, "User", "65532", "Env", []any{"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C", "HOME=/home/nonroot"},
			"Labels", map[string]any{"org.opencontainers.image.version": "2"})
	})
	w.tag("base:v2", "base:stable")
	return w, app
}

// The config follows the base (issue 16, item 5): User, HOME and the label
// the image inherited take the new base's values; the image's own PATH,
// Entrypoint and KO_DATA_PATH are kept, with a warning for the PATH both
// changed; the report lists every change.
func TestConfigFollowsBase(t *testing.T) {
	w, app := configWorld(t)
	res := newRebaser().Rebase(w.ctx, app)
	if res.Action != rebase.Rebased {
		t.Fatalf("%s: %s", res.Action, res.Reason)
	}
	got := configOf(t, w.rawConfig(res.Output, w.manifest(res.Output)))
	want := map[string]any{
		"User":       "65532",
		"Env":        []any{"PATH=/usr/bin:/bin:/ko-app", "LANG=C", "HOME=/home/nonroot", "KO_DATA_PATH=/var/run/ko"},
		"Entrypoint": []any{"/ko-app/app"},
		"Labels":     map[string]any{"org.opencontainers.image.version": "2"},
	}
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(want)
	if !bytes.Equal(gb, wb) {
		t.Errorf("config\n got %s\nwant %s", gb, wb)
	}
	wantWarn := `linux/amd64: config Env PATH: kept the image's "/usr/bin:/bin:/ko-app", but the new base changed it too ("/usr/bin:/bin" -> "/usr/local/bin:/usr/bin:/bin"): rebuild the image if it should follow`
	if !slices.Contains(res.Warnings, wantWarn) {
		t.Errorf("warnings %q, want %q", res.Warnings, wantWarn)
	}
	// The report (JSON, as --report writes it) lists the changes.
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Platforms []struct {
			Config []struct {
				Field, Key string
				Old, New   json.RawMessage
			}
		}
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	var changes []string
	for _, p := range rep.Platforms {
		for _, c := range p.Config {
			changes = append(changes, strings.TrimSpace(c.Field+" "+c.Key)+" "+string(c.Old)+" -> "+string(c.New))
		}
	}
	wantChanges := []string{`User "0" -> "65532"`, `Env HOME  -> "/home/nonroot"`, `Labels org.opencontainers.image.version "1" -> "2"`}
	if !slices.Equal(changes, wantChanges) {
		t.Errorf("report lists changes %q, want %q", changes, wantChanges)
	}
	// Rebasing the result again changes nothing.
	if again := newRebaser().Rebase(w.ctx, res.Output); again.Action != rebase.UpToDate {
		t.Errorf("second run: %s (%s), want up to date", again.Action, again.Reason)
	}
}

// WithKeepConfig keeps today's rule: the config object as the image had it,
// byte for byte.
func TestKeepConfig(t *testing.T) {
	w, app := configWorld(t)
	res := newRebaser(rebase.WithKeepConfig(true)).Rebase(w.ctx, app)
	if res.Action != rebase.Rebased {
		t.Fatalf("%s: %s", res.Action, res.Reason)
	}
	var before, after map[string]json.RawMessage
	json.Unmarshal(w.rawConfig(app, w.manifest(app)), &before)
	json.Unmarshal(w.rawConfig(res.Output, w.manifest(res.Output)), &after)
	if !bytes.Equal(before["config"], after["config"]) {
		t.Errorf("config object %s, want the image's %s", after["config"], before["config"])
	}
	if len(res.Platforms) != 1 || res.Platforms[0].Config != nil {
		t.Errorf("report lists config changes: %+v", res.Platforms)
	}
	for _, w := range res.Warnings {
		if strings.Contains(w, "config") {
			t.Errorf("warning %q with the config kept", w)
		}
	}
}
