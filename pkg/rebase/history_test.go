package rebase_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// historyOf is ref's config history, one "created_by|comment|empty" string
// an entry, and its number of layers.
func (w *world) historyOf(ref string) ([]string, int) {
	w.t.Helper()
	m := w.manifest(ref)
	var h []string
	for _, e := range w.config(ref, m).History {
		s := e.CreatedBy + "|" + e.Comment
		if e.EmptyLayer {
			s += "|empty"
		}
		h = append(h, s)
	}
	return h, len(m.Layers)
}

func layerEntries(h []string) int {
	n := 0
	for _, e := range h {
		if !strings.HasSuffix(e, "|empty") {
			n++
		}
	}
	return n
}

var appHistory = []string{"ko build ko://example.com/app|kodata contents, at $KO_DATA_PATH", "ko build ko://example.com/app|go build output, at /ko-app/app"}

// A new base without history (rules_oci bases): the rebased history still
// lines up with the layers (issue 16, item 6): an entry for each of the new
// base's layers, then the app's own.
func TestHistoryNewBaseWithoutHistory(t *testing.T) {
	w := newWorld(t)
	w.base("base", "v1", rebasetest.BaseSpec{})
	w.tag("base:v1", "base:stable")
	app := w.app("app", rebasetest.AppSpec{Base: "base:stable"})
	w.base("base", "v2", rebasetest.BaseSpec{NoHistory: true})
	w.tag("base:v2", "base:stable")

	res := newRebaser().Rebase(w.ctx, app)
	if res.Action != rebase.Rebased {
		t.Fatalf("%s: %s", res.Action, res.Reason)
	}
	added := "|a layer of the new base, whose history does not list it"
	for _, p := range []v1.Platform{amd64, arm64} {
		c, _ := w.child(res.Output, p)
		h, layers := w.historyOf(c)
		if want := append([]string{added, added}, appHistory...); !slices.Equal(h, want) {
			t.Errorf("%v: history\n got %q\nwant %q", p, h, want)
		}
		if layerEntries(h) != layers {
			t.Errorf("%v: %d history entries for layers, %d layers", p, layerEntries(h), layers)
		}
	}
	for _, p := range res.Platforms {
		if want := "the new base's history lists 0 of its 2 layers: added an entry for each of the others"; p.History != want {
			t.Errorf("%s: report says %q about history, want %q", p.Platform, p.History, want)
		}
	}
	if len(res.Warnings) != 0 {
		t.Errorf("warnings %q", res.Warnings)
	}
}

// An image whose history lists the base's layers but not the base's
// empty_layer entries (a builder that flattened them), with an empty_layer
// entry of its own right after them: the app's entries are all kept, the
// base's swapped, and the history lines up.
func TestHistoryWithoutBaseEmptyEntries(t *testing.T) {
	w := newWorld(t)
	single := rebasetest.BaseSpec{Single: true, Platforms: []v1.Platform{amd64}}
	w.base("base", "v1", single)
	w.tag("base:v1", "base:stable")
	app := w.app("app", rebasetest.AppSpec{Base: "base:stable", Platforms: []v1.Platform{amd64}})
	w.tag(strings.TrimPrefix(app, w.ref("")), "app:latest")
	w.reconfigure("app", "latest", func(c map[string]any) {
		h := c["history"].([]any)
		if e := h[2].(map[string]any); e["empty_layer"] != true {
			t.Fatalf("setup: base v1's third history entry is %v, want its ENV", e)
		}
		env := map[string]any{"created_by": "ENV APP=1", "empty_layer": true}
		c["history"] = append([]any{h[0], h[1], env}, h[3:]...)
	})
	app = w.ref("app@" + w.get(w.ref("app:latest")).Digest.String())
	w.base("base", "v2", single)
	w.tag("base:v2", "base:stable")

	res := newRebaser().Rebase(w.ctx, app)
	if res.Action != rebase.Rebased {
		t.Fatalf("%s: %s", res.Action, res.Reason)
	}
	h, layers := w.historyOf(res.Output)
	want := append([]string{"base v2 layer 0|", "base v2 layer 1|", "ENV BASE_VERSION=v2||empty", "ENV APP=1||empty"}, appHistory...)
	if !slices.Equal(h, want) {
		t.Errorf("history\n got %q\nwant %q", h, want)
	}
	if layerEntries(h) != layers {
		t.Errorf("%d history entries for layers, %d layers", layerEntries(h), layers)
	}
	if res.Platforms[0].History != "" || len(res.Warnings) != 0 {
		t.Errorf("history note %q, warnings %q", res.Platforms[0].History, res.Warnings)
	}
}

// A new base whose history lists more layers than it has: the history
// cannot line up, and a warning says so (it went to the report alone).
func TestHistoryCannotLineUp(t *testing.T) {
	w := newWorld(t)
	single := rebasetest.BaseSpec{Single: true, Platforms: []v1.Platform{amd64}}
	w.base("base", "v1", single)
	w.tag("base:v1", "base:stable")
	app := w.app("app", rebasetest.AppSpec{Base: "base:stable", Platforms: []v1.Platform{amd64}})
	w.base("base", "v2", single)
	w.reconfigure("base", "v2", func(c map[string]any) {
		c["history"] = append(c["history"].([]any), map[string]any{"created_by": "a layer squashed away"})
	})
	w.tag("base:v2", "base:stable")

	res := newRebaser().Rebase(w.ctx, app)
	if res.Action != rebase.Rebased {
		t.Fatalf("%s: %s", res.Action, res.Reason)
	}
	want := "linux/amd64: the new base's history lists 3 layers, it has 2: the history no longer lines up with the layers"
	if !slices.Equal(res.Warnings, []string{want}) {
		t.Errorf("warnings %q, want %q", res.Warnings, want)
	}
	b, _ := json.Marshal(res.Platforms)
	if !strings.Contains(string(b), fmt.Sprintf("%q", want[len("linux/amd64: "):])) {
		t.Errorf("report %s does not say so", b)
	}
}
