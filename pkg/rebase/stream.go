package rebase

import (
	"bufio"
	"bytes"
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
		br := bufio.NewReaderSize(in, MaxLine+2) // room for the line and its \r\n
		for {
			line, long, err := readLine(br)
			if line != "" {
				text := strings.TrimRight(line, "\r\n")
				s := &slot{text: text, ending: line[len(text):], done: make(chan struct{})}
				if !strings.HasSuffix(s.ending, "\n") && !long {
					s.ending += "\n" // a last line without one still gets a whole line back
				}
				s.ref = strings.TrimSpace(text)
				if long || len(text) > MaxLine {
					s.ref = ""
				}
				if long {
					s.ending, s.rest = "", make(chan []byte, 4)
				}

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
				case s.ref == "" && (long || len(text) > MaxLine):
					s.res = Result{Input: clipLine(text), Output: clipLine(text), Action: Failed,
						Reason: ErrLineTooLong.Error(), Err: ErrLineTooLong}
					close(s.done)
					if long {
						// The rest of the line goes straight through to the
						// writer, a chunk at a time: memory stays bounded,
						// and reading waits while the lines before it finish.
						if err = s.pass(ctx, br); err != nil && !errors.Is(err, io.EOF) {
							readErr.Store(&err)
							return
						}
						if err != nil {
							return
						}
						continue
					}
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
			} else if s.rest != nil {
				writeErr = s.echoRest(bw)
			} else {
				writeErr = bw.Flush()
			}
			if writeErr != nil {
				cancel() // nobody reads what we would print: stop working
			}
		} else if s.rest != nil {
			for range s.rest { // let the reader go on to its end
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

// MaxLine is the longest input line Stream reads as a reference, in bytes
// (without its line ending). A longer line is no reference: it is echoed,
// streamed through without being held, and answered with ErrLineTooLong.
const MaxLine = 64 << 10

// ErrLineTooLong is the failure of a line longer than MaxLine.
var ErrLineTooLong = fmt.Errorf("line too long (over %d bytes): not an image reference; echoed", MaxLine)

// slot is one input line on its way to the output.
type slot struct {
	text   string // the line without its line ending (of a long line: its start)
	ending string
	ref    string // the reference, trimmed
	done   chan struct{}
	res    Result
	// rest carries the remainder of a line longer than the reader's buffer,
	// line ending included, from the reader to the writer; closed at its end.
	rest chan []byte
}

// readLine reads one line with its ending. long says the line did not fit
// the reader's buffer: what is returned is its start, the rest is still to
// be read.
func readLine(br *bufio.Reader) (line string, long bool, err error) {
	b, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return string(b), true, nil
	}
	return string(b), false, err
}

// pass sends the rest of a long line to the writer through s.rest, a chunk
// at a time, and closes it. It ends early, with ctx's error, when ctx does.
func (s *slot) pass(ctx context.Context, br *bufio.Reader) error {
	defer close(s.rest)
	for {
		b, err := br.ReadSlice('\n')
		if len(b) > 0 {
			select {
			case s.rest <- bytes.Clone(b):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err != nil:
			return err
		case true:
			return nil
		}
	}
}

// echoRest writes the rest of a long line as it arrives, and a line ending
// when the input had none.
func (s *slot) echoRest(w *bufio.Writer) error {
	var last byte
	var werr error
	for b := range s.rest {
		if werr == nil {
			_, werr = w.Write(b)
			last = b[len(b)-1]
		}
	}
	if werr == nil && last != '\n' {
		werr = w.WriteByte('\n')
	}
	if werr == nil {
		werr = w.Flush()
	}
	return werr
}

// clipLine is the start of a long line, for messages and the report.
func clipLine(s string) string {
	const max = 200
	if len(s) <= max {
		return s
	}
	return s[:max] + fmt.Sprintf("... (%d bytes and more)", len(s))
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
