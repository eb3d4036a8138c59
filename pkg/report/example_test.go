package report_test

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/rebasekit/rebasekit/pkg/linestream"
	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/rebasekit/rebasekit/pkg/report"
)

// A report streamed as the lines are answered, and read back as the type.
func ExampleReport() {
	var buf bytes.Buffer
	w := report.NewWriter(&buf)
	var sum linestream.Summary
	for _, res := range []rebase.Result{
		{Input: "ghcr.io/acme/app:v1", Output: "ghcr.io/acme/app@sha256:0123", Action: rebase.Rebased},
		{Input: "# a comment", Output: "# a comment", Action: linestream.Blank},
	} {
		sum.Add(res)
		w.Add(res)
	}
	w.Close(report.Report{Counts: sum.Counts})

	var rep report.Report
	if err := json.Unmarshal(buf.Bytes(), &rep); err != nil {
		panic(err)
	}
	for _, img := range rep.Images {
		fmt.Println(img.Input, img.Action, img.Output)
	}
	fmt.Println(rep.Counts)
	// Output:
	// ghcr.io/acme/app:v1 rebased ghcr.io/acme/app@sha256:0123
	// rebased 1, up to date 0, skipped 0, failed 0
}
