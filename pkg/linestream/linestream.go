// Package linestream is crane-rebase-stream's line protocol: image
// references in, one a line, and exactly one line out for each, in input
// order, each written as soon as it and every line before it are done.
//
//	r, err := rebase.New(rebase.WithJobs(8))
//	if err != nil { ... }
//	sum, err := linestream.Stream{Jobs: 8}.Run(ctx, r, os.Stdin, os.Stdout)
//	fmt.Println(sum) // rebased 3, up to date 0, skipped 0, failed 0
//
// Blank lines and lines starting with "#" are echoed. A line that is not
// rebased (up to date, skipped, failed, not a reference) is echoed byte for
// byte; a rebased one gets the new reference in place of the old, keeping
// any whitespace around it. Lines naming the same reference are worked on
// once. A line longer than MaxLine is echoed without being held in memory.
package linestream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/rebasekit/rebasekit/pkg/pipeline"
	"github.com/rebasekit/rebasekit/pkg/rebase"
)

// Worker works on one reference; *rebase.Rebaser is one.
type Worker interface {
	Rebase(ctx context.Context, ref string) rebase.Result
}

// Blank is the action of a blank or comment line: echoed, no image.
const Blank rebase.Action = "blank"

// Stream says how to run the protocol.
type Stream struct {
	// Jobs is how many references are worked on at once (default 8).
	Jobs int
	// Stop, when closed, stops the stream gracefully: no new line is taken,
	// the lines read but not started are answered with their input (failed:
	// interrupted before it started), the ones in flight finish. Ending
	// Run's context instead abandons the ones in flight too (they fail at
	// once). The command closes Stop on the first SIGINT/SIGTERM and ends
	// the context on the second.
	Stop <-chan struct{}
	// Each, when not nil, is called for every line in input order, just
	// after the line is written: the place for stderr messages and progress.
	Each func(line int, res rebase.Result)
	// Pairs prints "OLD NEW" for each reference line instead of the line
	// with its reference replaced: the form ko-rewrite --images accepts,
	// which concatenates across runs. A reference not rebased gets
	// "OLD OLD". Blank and comment lines are echoed; a line too long to be
	// a reference too, and one that is not a reference (ko-rewrite then
	// names it).
	Pairs bool
	// Shard, when set, takes only its share of the distinct references and
	// drops every other line, blank and comment lines included; Pairs is
	// then implied.
	Shard Shard
	// KeepResults keeps every result in the Summary, for a caller with a
	// small input. Without it a result is dropped once its line is written
	// and Each has seen it: memory grows with Jobs and what is in flight,
	// and with the distinct references (one result each, for the repeated
	// ones), not with the input's length.
	KeepResults bool
	// Ended, when not nil, is called once when the input has ended (not
	// on a read error or a halt), with the number of distinct references
	// taken: with the lines answered, how many are left.
	Ended func(refs int)
}

// Run reads references from in and writes the answers to out. It returns
// the counts (and, with KeepResults, the results); its error is only about reading in or writing
// out. When ctx ends or Stop is closed, Run takes no new line, answers every
// line it has taken and returns, even while in is still open.
func (s Stream) Run(ctx context.Context, w Worker, in io.Reader, out io.Writer) (Summary, error) {
	if s.Jobs < 1 {
		s.Jobs = 8
	}
	if s.Shard.Count > 0 {
		s.Pairs = true
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := &run{Stream: s, w: w, ctx: ctx, cancel: cancel,
		queue: make(chan *slot, 16*s.Jobs), sem: make(chan struct{}, s.Jobs)}
	go r.read(in)
	return r.write(out)
}

// run is one Run: a reader that takes lines and starts their work, and a
// writer that answers them in order.
//
// The hand-over of a line read from in: a line is taken when it is queued,
// under mu. Once halted (ctx ended or Stop closed) the reader takes no more,
// so after the halt, once the writer has held mu, the queue holds every
// line taken. Every line taken is answered: the output answers a prefix of
// the input, whatever the timing.
type run struct {
	Stream
	w      Worker
	ctx    context.Context
	cancel context.CancelFunc
	queue  chan *slot
	sem    chan struct{}

	mu      sync.Mutex
	readErr atomic.Pointer[error]
}

func (r *run) halted() bool { return r.ctx.Err() != nil || closed(r.Stop) }

var errInterrupted = errors.New("interrupted")

func (r *run) notStarted(s *slot) {
	s.res = rebase.Result{Input: s.ref, Output: s.ref, Action: rebase.Failed, Reason: "interrupted before the rebase started", Err: errInterrupted}
	close(s.done)
}

// read takes lines from in until it ends, the stream halts or a read fails.
func (r *run) read(in io.Reader) {
	defer close(r.queue)
	first := map[string]*slot{}
	br := bufio.NewReaderSize(in, MaxLine+2) // room for the line and its \r\n
	for {
		line, long, err := readLine(br)
		if line != "" {
			s := newSlot(line, long)
			if !r.Shard.takes(s) {
				if long {
					err = skipRest(br)
				}
				if err == nil {
					continue
				}
			} else if !r.take(s) {
				return // read after the stop: not taken, not answered
			}
			switch {
			case !r.Shard.takes(s): // another shard's
			case s.res.Err != nil: // a line too long: answered already
				close(s.done)
				if s.rest != nil {
					// The rest of the line goes straight through to the
					// writer, a chunk at a time: memory stays bounded, and
					// reading waits while the lines before it finish.
					err = s.pass(r.ctx, br)
				}
			default:
				r.start(s, first)
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				r.readErr.Store(&err)
			} else if r.Ended != nil && !r.halted() {
				r.Ended(len(first))
			}
			return
		}
	}
}

// take queues s unless the stream has halted.
func (r *run) take(s *slot) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.halted() {
		return false
	}
	select {
	case r.queue <- s:
		return true
	case <-r.ctx.Done():
	case <-r.Stop:
	}
	return false
}

// start answers a blank line, waits on the first occurrence of a repeated
// reference, or starts the work on a new one (when a job is free).
func (r *run) start(s *slot, first map[string]*slot) {
	switch {
	case pipeline.Ignored(s.ref):
		s.res = rebase.Result{Input: s.text, Output: s.text, Action: Blank}
		close(s.done)
	case first[s.ref] != nil:
		f := first[s.ref]
		go func() {
			<-f.done
			s.res = f.res
			close(s.done)
		}()
	default:
		first[s.ref] = s
		select {
		case r.sem <- struct{}{}:
			if closed(r.Stop) {
				<-r.sem
				r.notStarted(s)
				return
			}
			go func() {
				defer func() { <-r.sem }()
				s.res = r.w.Rebase(r.ctx, s.ref) // fails at once if ctx has ended
				close(s.done)
			}()
		case <-r.ctx.Done():
			r.notStarted(s)
		case <-r.Stop:
			r.notStarted(s)
		}
	}
}

// write answers the lines taken, in input order.
func (r *run) write(out io.Writer) (Summary, error) {
	var sum Summary
	var writeErr error
	bw := bufio.NewWriter(out)
	halt := false
	for n := 1; ; n++ {
		s, ok := r.next(&halt)
		if !ok {
			break
		}
		<-s.done
		if writeErr == nil {
			if writeErr = s.answer(bw, r.Pairs); writeErr != nil {
				r.cancel() // nobody reads what we would print: stop working
			}
		} else if s.rest != nil {
			for range s.rest { // let the reader go on to its end
			}
		}
		if r.KeepResults {
			sum.Add(s.res)
		} else {
			sum.count(s.res)
		}
		if r.Each != nil {
			r.Each(n, s.res)
		}
	}
	if writeErr == nil {
		writeErr = bw.Flush()
	}
	if writeErr != nil {
		return sum, fmt.Errorf("writing output: %w", writeErr)
	}
	if readErr := r.readErr.Load(); readErr != nil {
		return sum, fmt.Errorf("reading input: %w", *readErr)
	}
	return sum, nil
}

// next is the next line taken, in input order. After a halt it only drains
// what was taken, so a reader blocked on an open input cannot hold us.
func (r *run) next(halt *bool) (*slot, bool) {
	if !*halt {
		select {
		case s, ok := <-r.queue:
			return s, ok
		case <-r.ctx.Done():
		case <-r.Stop:
		}
		r.mu.Lock() // wait out a hand-over in progress
		*halt = true
		r.mu.Unlock()
	}
	select {
	case s, ok := <-r.queue:
		return s, ok
	default:
		return nil, false
	}
}

// closed reports whether c is closed; a nil c never is.
func closed(c <-chan struct{}) bool {
	if c == nil {
		return false
	}
	select {
	case <-c:
		return true
	default:
		return false
	}
}
