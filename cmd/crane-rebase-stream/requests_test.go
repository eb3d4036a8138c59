package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
	"github.com/rebasekit/rebasekit/pkg/registry"
)

// --report's "requests" and -v's lines before the summary say what the
// registry answered: by method, and (the report) by kind, as the registry
// counts.
func TestRequestsReported(t *testing.T) {
	reg, app1, _, _ := setup(t)
	report := filepath.Join(t.TempDir(), "report.json")
	reg.Reset()
	code, _, errs := runCmd(t, app1+"\n", "-v", "--report", report, "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	methods := map[string]int{}
	kinds := map[string]int{}
	for _, q := range reg.Requests() {
		methods[q.Method]++
		k := rebasetest.Kind(q.Path)
		if k == "upload" && strings.Contains(q.Query, "mount=") {
			k = "mount" // the report names a mount apart
		}
		kinds[q.Method+" "+k]++
	}
	total := len(reg.Requests())

	top := reportKeys(t, report)
	if got, want := slices.Sorted(maps.Keys(top)), []string{"copiedBytes", "failed", "images", "rebased", "requests", "skipped", "upToDate"}; !slices.Equal(got, want) {
		t.Errorf("report keys %q, want %q", got, want)
	}
	var hosts map[string]map[string]json.RawMessage
	if err := json.Unmarshal(top["requests"], &hosts); err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(hosts)); !slices.Equal(got, []string{reg.Host}) {
		t.Fatalf("requests for %q, want %s only:\n%s", got, reg.Host, top["requests"])
	}
	if got, want := slices.Sorted(maps.Keys(hosts[reg.Host])), []string{"kinds", "methods", "total"}; !slices.Equal(got, want) {
		t.Errorf("requests keys %q, want %q", got, want)
	}
	var got struct {
		Total   int            `json:"total"`
		Methods map[string]int `json:"methods"`
		Kinds   map[string]int `json:"kinds"`
	}
	raw, _ := json.Marshal(hosts[reg.Host])
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if got.Total != total || !maps.Equal(got.Methods, methods) || !maps.Equal(got.Kinds, kinds) {
		t.Errorf("report's requests %+v; the registry answered %d: %v, %v", got, total, methods, kinds)
	}
	// The config of each platform in one request: no upload PUT.
	if got.Kinds["POST upload"] != 2 || got.Kinds["PUT upload"] != 0 {
		t.Errorf("config uploads: %d POSTs, %d PUTs; want 2, 0", got.Kinds["POST upload"], got.Kinds["PUT upload"])
	}

	want := fmt.Sprintf("crane-rebase-stream: requests to %s: %d (GET %d, POST %d, PUT %d)\n", reg.Host, total, methods["GET"], methods["POST"], methods["PUT"])
	if want += "crane-rebase-stream: rebased 1, up to date 0, skipped 0, failed 0\n"; len(methods) != 3 || !strings.HasSuffix(errs, "\n"+want) {
		t.Errorf("-v: stderr %q, want it to end with %q (methods %v)", errs, want, methods)
	}
	// Without -v, no such line.
	_, _, errs = runCmd(t, app1+"\n", "-")
	if strings.Contains(errs, "requests to") {
		t.Errorf("without -v: %q", errs)
	}
}

func TestRequestLines(t *testing.T) {
	got := requestLines(map[string]registry.Requests{
		"registry.example":  {Total: 7, Methods: map[string]int{"PUT": 2, "GET": 4, "HEAD": 1}},
		"auth.example:8443": {Total: 1, Methods: map[string]int{"GET": 1}},
	})
	want := "crane-rebase-stream: requests to auth.example:8443: 1 (GET 1)\n" +
		"crane-rebase-stream: requests to registry.example: 7 (GET 4, HEAD 1, PUT 2)\n"
	if got != want {
		t.Errorf("requestLines:\n%s\nwant:\n%s", got, want)
	}
}

// A run that asked no registry anything (every line not a reference) has no
// "requests" in its report, as before the counts (an empty object came
// first).
func TestNoRequestsNoKey(t *testing.T) {
	report := filepath.Join(t.TempDir(), "report.json")
	code, _, errs := runCmd(t, "not a reference!\n", "--report", report, "-")
	if code == 0 {
		t.Fatalf("exit 0 for a bad line: %s", errs)
	}
	top := reportKeys(t, report)
	if _, ok := top["requests"]; ok {
		t.Errorf("report has requests %s", top["requests"])
	}
}

// reportKeys reads the --report at path as its top-level keys.
func reportKeys(t *testing.T, path string) map[string]json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatal(err)
	}
	return top
}
