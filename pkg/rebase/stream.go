package rebase

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
)

// Stream reads image references from in, one a line, rebases up to WithJobs
// of them at once, and writes exactly one line to out for each line read, in
// input order. A line is written (and flushed) as soon as it and every line
// before it are done, so a downstream tool can start before the input ends.
//
// Blank lines and lines starting with "#" are echoed. A line that is not
// rebased (up to date, skipped, failed, not a reference) is echoed byte for
// byte; a rebased one gets the new reference in place of the old, keeping any
// whitespace around it. Lines naming the same reference are rebased once.
//
// each, when not nil, is called for every line in input order, just after
// the line is written (the place for stderr messages and progress). Stream
// returns the counts and results; its error is only about reading in or
// writing out.
//
// Stopping: when ctx ends, Stream takes no new line, answers every line it
// has taken (the images in flight fail at once with "interrupted") and
// returns, even while in is still open. WithStop is the graceful variant: the
// images in flight finish first.
func (r *Rebaser) Stream(ctx context.Context, in io.Reader, out io.Writer, each func(line int, res Result)) (Summary, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := r.o.stop // nil: never
	halted := func() bool { return ctx.Err() != nil || closed(stop) }

	type slot struct {
		text   string // the line without its line ending
		ending string
		ref    string // the reference, trimmed
		done   chan struct{}
		res    Result
	}
	queue := make(chan *slot, 16*r.o.jobs)
	sem := make(chan struct{}, r.o.jobs)
	var readErr atomic.Pointer[error]

	// The hand-over of a line read from in: a line is taken when it is
	// queued, under mu. Once halted (ctx ended or stop closed) the reader
	// takes no more, so after the halt, once the writer has held mu, the
	// queue holds every line taken. Every line taken is answered: the output
	// answers a prefix of the input, whatever the timing.
	var mu sync.Mutex
	notStarted := func(s *slot) {
		s.res = Result{Input: s.ref, Output: s.ref, Action: Failed, Reason: "interrupted before the rebase started", Err: errInterrupted}
		close(s.done)
	}
	go func() {
		defer close(queue)
		first := map[string]*slot{}
		br := bufio.NewReader(in)
		for {
			line, err := br.ReadString('\n')
			if line != "" {
				text := strings.TrimRight(line, "\r\n")
				s := &slot{text: text, ending: line[len(text):], done: make(chan struct{})}
				if !strings.HasSuffix(s.ending, "\n") {
					s.ending += "\n" // a last line without one still gets a whole line back
				}
				s.ref = strings.TrimSpace(text)

				mu.Lock()
				taken := !halted()
				if taken {
					select {
					case queue <- s:
					case <-ctx.Done():
						taken = false
					case <-stop:
						taken = false
					}
				}
				mu.Unlock()
				if !taken {
					return // read after the stop: not taken, not answered
				}

				switch {
				case s.ref == "" || strings.HasPrefix(s.ref, "#"):
					s.res = Result{Input: text, Output: text, Action: Blank}
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
					case sem <- struct{}{}:
						if closed(stop) {
							<-sem
							notStarted(s)
							break
						}
						go func() {
							defer func() { <-sem }()
							s.res = r.Rebase(ctx, s.ref) // fails at once if ctx has ended
							close(s.done)
						}()
					case <-ctx.Done():
						notStarted(s)
					case <-stop:
						notStarted(s)
					}
				}
			}
			if err != nil {
				if !errors.Is(err, io.EOF) {
					readErr.Store(&err)
				}
				return
			}
		}
	}()

	var sum Summary
	var writeErr error
	bw := bufio.NewWriter(out)
	n := 0
	halt := false
	// next is the next line taken, in input order. After a halt it only
	// drains what was taken, so a reader blocked on an open input cannot
	// hold us.
	next := func() (*slot, bool) {
		if !halt {
			select {
			case s, ok := <-queue:
				return s, ok
			case <-ctx.Done():
			case <-stop:
			}
			mu.Lock() // wait out a hand-over in progress
			halt = true
			mu.Unlock()
		}
		select {
		case s, ok := <-queue:
			return s, ok
		default:
			return nil, false
		}
	}
	for {
		s, ok := next()
		if !ok {
			break
		}
		<-s.done
		n++
		text := s.text
		if s.res.Action == Rebased {
			text = strings.Replace(text, s.ref, s.res.Output, 1)
		}
		if writeErr == nil {
			if _, err := bw.WriteString(text + s.ending); err != nil {
				writeErr = err
			} else {
				writeErr = bw.Flush()
			}
			if writeErr != nil {
				cancel() // nobody reads what we would print: stop working
			}
		}
		sum.add(s.res)
		if each != nil {
			each(n, s.res)
		}
	}
	if writeErr == nil {
		writeErr = bw.Flush()
	}
	if writeErr != nil {
		return sum, fmt.Errorf("writing output: %w", writeErr)
	}
	if readErr := readErr.Load(); readErr != nil {
		return sum, fmt.Errorf("reading input: %w", *readErr)
	}
	return sum, nil
}

var errInterrupted = errors.New("interrupted")

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
