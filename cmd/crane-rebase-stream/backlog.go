package main

import (
	"context"
	"sync/atomic"

	"github.com/rebasekit/rebasekit/pkg/linestream"
	"github.com/rebasekit/rebasekit/pkg/rebase"
)

// backlog is how far the run is through its input, for the engine's
// notice of a pull budget that cannot cover the run (rebase.WithBacklog):
// the images done, counted as the worker returns them, and the distinct
// references of the input, known once it has ended (linestream's Ended).
// Before that, nothing is said: a stream on stdin may go on for ever.
type backlog struct {
	done atomic.Int64
	refs atomic.Int64 // -1 until the input has ended
}

func newBacklog() *backlog {
	b := &backlog{}
	b.refs.Store(-1)
	return b
}

// counts is rebase.WithBacklog's function.
func (b *backlog) counts() (done, left int) {
	d, n := int(b.done.Load()), int(b.refs.Load())
	if n < 0 {
		return d, -1
	}
	return d, max(n-d, 0)
}

func (b *backlog) ended(refs int) { b.refs.Store(int64(refs)) }

// worker counts the images w is done with.
func (b *backlog) worker(w linestream.Worker) linestream.Worker { return countingWorker{w, b} }

type countingWorker struct {
	w linestream.Worker
	b *backlog
}

func (c countingWorker) Rebase(ctx context.Context, ref string) rebase.Result {
	defer c.b.done.Add(1)
	return c.w.Rebase(ctx, ref)
}
