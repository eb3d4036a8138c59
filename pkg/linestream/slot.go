package linestream

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rebasekit/rebasekit/pkg/pipeline"
	"github.com/rebasekit/rebasekit/pkg/rebase"
)

// MaxLine is the longest input line read as a reference, in bytes (without
// its line ending): pipeline.MaxLine, which ko-rewrite --images reads with.
// A longer line is no reference: it is echoed, streamed through without
// being held, and answered with ErrLineTooLong.
const MaxLine = pipeline.MaxLine

// ErrLineTooLong is the failure of a line longer than MaxLine.
var ErrLineTooLong = fmt.Errorf("line too long (over %d bytes): not an image reference; echoed", MaxLine)

// slot is one input line on its way to the output.
type slot struct {
	text   string // the line without its line ending (of a long line: its start)
	ending string
	ref    string // the reference, trimmed
	done   chan struct{}
	res    rebase.Result
	// rest carries the remainder of a line longer than the reader's buffer,
	// line ending included, from the reader to the writer; closed at its end.
	rest chan []byte
}

// newSlot is the slot of a line read with its ending; long says only its
// start was read.
func newSlot(line string, long bool) *slot {
	text := strings.TrimRight(line, "\r\n")
	s := &slot{text: text, ending: line[len(text):], done: make(chan struct{})}
	if !strings.HasSuffix(s.ending, "\n") && !long {
		s.ending += "\n" // a last line without one still gets a whole line back
	}
	s.ref = strings.TrimSpace(text)
	if long || len(text) > MaxLine {
		s.ref = ""
		in := Clip(text)
		if long {
			in = clip(text, " and more") // only its start was read
		}
		s.res = rebase.Result{Input: in, Output: in, Action: rebase.Failed,
			Reason: ErrLineTooLong.Error(), Err: ErrLineTooLong}
	}
	if long {
		s.ending, s.rest = "", make(chan []byte, 4)
	}
	return s
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
		if !errors.Is(err, bufio.ErrBufferFull) {
			return err
		}
	}
}

// answer writes the slot's line: the input with a rebased reference put in
// place of the old one, or the input as it was; with pairs, a reference's
// line is "OLD NEW" (NEW is OLD when not rebased).
func (s *slot) answer(w *bufio.Writer, pairs bool) error {
	text := s.text
	switch {
	case pairs && s.rest == nil && s.res.Err != ErrLineTooLong && s.res.Action != Blank && !errors.Is(s.res.Err, rebase.ErrNotReference):
		out := s.ref
		if s.res.Action == rebase.Rebased {
			out = s.res.Output
		}
		if _, err := w.WriteString(pipeline.Pair(s.ref, out) + "\n"); err != nil {
			return err
		}
		return w.Flush()
	case s.res.Action == rebase.Rebased:
		text = strings.Replace(text, s.ref, s.res.Output, 1)
	}
	if _, err := w.WriteString(text + s.ending); err != nil {
		return err
	}
	if s.rest != nil {
		return s.echoRest(w)
	}
	return w.Flush()
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

// Clip is s, or when s is longer than 200 bytes its start and its length
// ("... (N bytes)"): the form a line takes in a message or the report, so
// that a runaway input line cannot flood either.
func Clip(s string) string { return clip(s, "") }

// clip is Clip with more after the length.
func clip(s, more string) string {
	const max = 200
	if len(s) <= max {
		return s
	}
	return s[:max] + fmt.Sprintf("... (%d bytes%s)", len(s), more)
}
