package main

import (
	"fmt"
	"io"
	"os"

	"github.com/rebasekit/rebasekit/pkg/linestream"
	"github.com/rebasekit/rebasekit/pkg/rebase"
)

// progress keeps one status line at the bottom of a terminal's stderr; it
// does nothing when stderr is a file or a pipe.
type progress struct {
	w      io.Writer
	on     bool
	shown  bool
	sum    linestream.Summary
	total  int // lines in the input, when known (a file argument); else 0
	dryRun bool
}

func newProgress(w io.Writer) *progress {
	return &progress{w: w, on: isTerminal(w)}
}

func (p *progress) update(line int, res rebase.Result) {
	if !p.on {
		return
	}
	switch res.Action {
	case rebase.Rebased:
		p.sum.Rebased++
	case rebase.UpToDate:
		p.sum.UpToDate++
	case rebase.Skipped:
		p.sum.Skipped++
	case rebase.Failed:
		p.sum.Failed++
	}
	sum := summaryLine(p.sum, p.dryRun)
	if p.total > 0 {
		fmt.Fprintf(p.w, "\r\033[K%d/%d: %s", line, p.total, sum)
	} else {
		fmt.Fprintf(p.w, "\r\033[Kline %d: %s", line, sum)
	}
	p.shown = true
}

func (p *progress) clear() {
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
}

// countLines is the number of lines crane-rebase-stream will answer for the
// file at path (a last line without a newline counts), for the N/TOTAL
// progress; 0 when the file cannot be read.
func countLines(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	n, last := 0, byte('\n')
	buf := make([]byte, 64<<10)
	for {
		k, err := f.Read(buf)
		for _, b := range buf[:k] {
			if b == '\n' {
				n++
			}
		}
		if k > 0 {
			last = buf[k-1]
		}
		if err != nil {
			break
		}
	}
	if last != '\n' {
		n++
	}
	return n
}
