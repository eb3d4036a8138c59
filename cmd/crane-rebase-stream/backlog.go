package main

import (
	"bufio"
	"context"
	"os"
	"strings"
	"sync/atomic"

	"github.com/rebasekit/rebasekit/pkg/linestream"
	"github.com/rebasekit/rebasekit/pkg/rebase"
)

// backlog is how far the run is through its input, for the engine's
// notice of a pull budget that cannot cover the run (rebase.WithBacklog):
// the images started and done, counted as the worker takes and returns
// them, and the lines in all. Those are known once the input has ended
// (linestream's Ended: the distinct references), and for a FILE that is a
// regular file from the start (its reference lines, repeated ones counted
// each time: at most the distinct references), read once before the run.
// A stream on stdin may go on for ever: until it ends nothing is said.
type backlog struct {
	started, done atomic.Int64
	lines         atomic.Int64 // -1 until known
}

// newBacklog is the backlog of the input named path ("" or "-": stdin);
// a shard's lines are known once it has ended.
func newBacklog(path string, shard bool) *backlog {
	b := &backlog{}
	b.lines.Store(-1)
	if path != "" && path != "-" && !shard {
		if n, ok := countRefLines(path); ok {
			b.lines.Store(int64(n))
		}
	}
	return b
}

// counts is rebase.WithBacklog's function.
func (b *backlog) counts() rebase.Backlog {
	return rebase.Backlog{Started: int(b.started.Load()), Done: int(b.done.Load()), Lines: int(b.lines.Load())}
}

func (b *backlog) ended(refs int) { b.lines.Store(int64(refs)) }

// worker counts the images w works on.
func (b *backlog) worker(w linestream.Worker) linestream.Worker { return countingWorker{w, b} }

type countingWorker struct {
	w linestream.Worker
	b *backlog
}

func (c countingWorker) Rebase(ctx context.Context, ref string) rebase.Result {
	c.b.started.Add(1)
	defer c.b.done.Add(1)
	return c.w.Rebase(ctx, ref)
}

// countRefLines counts the lines of the regular file at path that are
// neither blank nor comments; not a regular file (a pipe, which reading
// would empty) or unreadable: false.
func countRefLines(path string) (int, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return 0, false
	}
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), linestream.MaxLine+2)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			n++
		}
	}
	return n, sc.Err() == nil
}
