package report_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/rebasekit/rebasekit/pkg/linestream"
	"github.com/rebasekit/rebasekit/pkg/packages"
	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/rebasekit/rebasekit/pkg/report"
	"github.com/rebasekit/rebasekit/pkg/summary"
)

// stream writes a report the way crane-rebase-stream does: every line's
// result as it is answered, then the bases and the counts.
func stream(t *testing.T, results []rebase.Result, bases []summary.Base) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := report.NewWriter(&buf)
	var sum linestream.Summary
	for _, r := range results {
		sum.Add(r)
		if err := w.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(report.Report{Bases: bases, Counts: sum.Counts}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var (
	rebased = rebase.Result{Input: "ghcr.io/acme/app:v1", Output: "ghcr.io/acme/app@sha256:b", Action: rebase.Rebased,
		Digest: "sha256:a", NewDigest: "sha256:b", Base: "cgr.dev/chainguard/static:latest", CopiedBytes: 7, DurationMs: 12,
		Platforms: []rebase.PlatformResult{{Platform: "linux/amd64", Action: rebase.Rebased, Digest: "sha256:c", NewDigest: "sha256:d"}},
		Warnings:  []string{"a <warning> & more"}}
	failed = rebase.Result{Input: "not a ref", Output: "not a ref", Action: rebase.Failed, Reason: "not an image reference", Err: errors.New("x")}
	blank  = rebase.Result{Input: "# c", Output: "# c", Action: linestream.Blank}
	bases  = []summary.Base{{Name: "cgr.dev/chainguard/static:latest",
		Platforms: []summary.Platform{{Platform: "linux/amd64", Old: "sha256:e", New: "sha256:f",
			Changes:     &packages.Changes{Upgraded: []packages.Change{{Name: "libssl3", Old: "3.0.1", New: "3.0.2"}}},
			OldPackages: packages.List{Source: packages.APK, Where: "lib/apk/db/installed"}, NewPackages: packages.List{Unknown: "no database"}}},
		Images: []summary.Image{{Ref: "ghcr.io/acme/app:v1", Digest: "sha256:a", NewDigest: "sha256:b", Signed: "not signed"}}}}
)

// The streamed report decodes into Report, which encodes back to the same
// bytes: the file is the type's JSON, whatever the case (no image, no
// --summary, --summary with no base moved, both).
func TestStreamedReportRoundTrips(t *testing.T) {
	for name, tc := range map[string]struct {
		results []rebase.Result
		bases   []summary.Base
	}{
		"empty":                  {nil, nil},
		"images":                 {[]rebase.Result{blank, rebased, failed, blank, failed}, nil},
		"summary, no base moved": {[]rebase.Result{failed}, []summary.Base{}},
		"summary":                {[]rebase.Result{rebased, blank}, bases},
	} {
		b := stream(t, tc.results, tc.bases)
		var rep report.Report
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, b)
		}
		again, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if string(append(again, '\n')) != string(b) {
			t.Errorf("%s: streamed\n%s\nre-encoded\n%s", name, b, again)
		}
		var images int
		for _, r := range tc.results {
			if r.Action != linestream.Blank {
				images++
			}
		}
		if len(rep.Images) != images || (rep.Bases == nil) != (tc.bases == nil) || len(rep.Bases) != len(tc.bases) {
			t.Errorf("%s: %d images, bases %v; want %d images, bases %v", name, len(rep.Images), rep.Bases, images, tc.bases)
		}
	}
}

// The bytes of a report, key by key, as crane-rebase-stream has always
// written them: the images first, "bases" only with --summary, the counts
// last.
func TestReportBytes(t *testing.T) {
	want := `{
  "images": [
    {
      "input": "not a ref",
      "output": "not a ref",
      "action": "failed",
      "reason": "not an image reference",
      "durationMs": 0
    }
  ],
  "bases": [],
  "rebased": 0,
  "upToDate": 0,
  "skipped": 0,
  "failed": 1,
  "copiedBytes": 0
}
`
	if got := string(stream(t, []rebase.Result{blank, failed}, []summary.Base{})); got != want {
		t.Errorf("report\n%s\nwant\n%s", got, want)
	}
	want = "{\n  \"images\": [],\n  \"rebased\": 0,\n  \"upToDate\": 0,\n  \"skipped\": 0,\n  \"failed\": 0,\n  \"copiedBytes\": 0\n}\n"
	if got := string(stream(t, nil, nil)); got != want {
		t.Errorf("empty report\n%q\nwant\n%q", got, want)
	}
}

// A failed write is the Writer's error from then on; nothing more is tried.
func TestWriterKeepsTheFirstError(t *testing.T) {
	w := report.NewWriter(failingWriter{})
	if err := w.Add(failed); !errors.Is(err, errFull) {
		t.Errorf("Add: %v, want %v", err, errFull)
	}
	if err := w.Close(report.Report{}); !errors.Is(err, errFull) {
		t.Errorf("Close: %v, want %v", err, errFull)
	}
}

var errFull = errors.New("no space left on device")

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errFull }
