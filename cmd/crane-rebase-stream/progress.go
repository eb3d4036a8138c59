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
	w     io.Writer
	on    bool
	shown bool
	sum   linestream.Summary
}

func newProgress(w io.Writer) *progress {
	under := w
	if l, ok := w.(*lockedWriter); ok {
		under = l.w
	}
	f, ok := under.(*os.File)
	if !ok {
		return &progress{w: w}
	}
	st, err := f.Stat()
	return &progress{w: w, on: err == nil && st.Mode()&os.ModeCharDevice != 0}
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
	fmt.Fprintf(p.w, "\r\033[Kline %d: %s", line, p.sum)
	p.shown = true
}

func (p *progress) clear() {
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
}
