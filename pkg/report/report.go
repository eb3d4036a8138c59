// Package report is crane-rebase-stream's --report: Report is its JSON as a
// Go type, for the programs that read it, and Writer streams it as the
// lines are answered, from that same type, so that the file and the type
// cannot disagree.
//
//	var rep report.Report
//	if err := json.Unmarshal(b, &rep); err != nil { ... }
//	for _, img := range rep.Images {
//		fmt.Println(img.Input, img.Action, img.Output)
//	}
//	fmt.Println(rep.Counts) // rebased 3, up to date 0, skipped 0, failed 0
//
// It is a package of its own because a report holds both the engine's
// results with linestream's counts and pkg/summary's bases, and
// pkg/summary already builds on pkg/linestream.
package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/rebasekit/rebasekit/pkg/linestream"
	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/rebasekit/rebasekit/pkg/registry"
	"github.com/rebasekit/rebasekit/pkg/summary"
)

// Report is the --report file. Its keys come in this order: the images
// first, as they are written while the run goes, then what is only known at
// its end.
type Report struct {
	// Images holds the result of every image line, in input order (blank
	// and comment lines have none).
	Images []rebase.Result `json:"images"`
	// Bases, with --summary, are the bases that moved and their packages
	// that changed: the summary's facts for machines. Absent without
	// --summary; empty when no base moved.
	Bases []summary.Base `json:"bases,omitzero"`
	// Requests are the run's requests by registry host: in all, by method
	// and by kind (what the engine asked for).
	Requests map[string]registry.Requests `json:"requests,omitzero"`
	linestream.Counts
}

// Writer writes a Report to an io.Writer one image at a time: memory does
// not grow with the input. Its output is exactly json.MarshalIndent(report,
// "", "  ") and a newline for the Report it was given piece by piece.
type Writer struct {
	w   io.Writer
	n   int // the images written
	err error
}

// indent is the indentation of the file, as MarshalIndent's.
const indent = "  "

// head is the report's start, up to the images' array's first element.
const head = "{\n" + indent + `"images": [`

// NewWriter starts a report on w.
func NewWriter(w io.Writer) *Writer {
	rw := &Writer{w: w}
	_, rw.err = io.WriteString(w, head)
	return rw
}

// Add writes the result of a line if it is an image's (linestream.IsImage).
func (rw *Writer) Add(res rebase.Result) error {
	if rw.err != nil || !linestream.IsImage(res) {
		return rw.err
	}
	b, err := json.MarshalIndent(res, indent+indent, indent)
	if err != nil {
		rw.err = err
		return err
	}
	sep := ",\n" + indent + indent
	if rw.n == 0 {
		sep = "\n" + indent + indent
	}
	rw.n++
	if _, rw.err = io.WriteString(rw.w, sep); rw.err == nil {
		_, rw.err = rw.w.Write(b)
	}
	return rw.err
}

// Close ends the report with end, the Report's fields known at the end of
// the run: the counts and, with --summary, the bases (end.Images, written
// already, are left out). It does not close the underlying writer.
func (rw *Writer) Close(end Report) error {
	if rw.err != nil {
		return rw.err
	}
	// The rest of the report is the Report without its images, after
	// the images' array: marshalled, so its keys are the type's.
	end.Images = []rebase.Result{}
	b, err := json.MarshalIndent(end, "", indent)
	if err != nil {
		rw.err = err
		return err
	}
	rest, ok := bytes.CutPrefix(b, []byte(head+"]"))
	if !ok {
		rw.err = fmt.Errorf("report: unexpected encoding %.40q", b)
		return rw.err
	}
	bracket := "]"
	if rw.n > 0 {
		bracket = "\n" + indent + "]"
	}
	if _, rw.err = io.WriteString(rw.w, bracket); rw.err == nil {
		_, rw.err = rw.w.Write(append(rest, '\n'))
	}
	return rw.err
}
