package rewrite

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/rebasekit/rebasekit/pkg/pipeline"
	"github.com/rebasekit/rebasekit/pkg/refs"
)

// Images is a parsed replacement stream (ko-rewrite --images). It has one of
// two forms, decided by its first line:
//
//   - NEW: line k replaces the k-th unique reference the walker selects;
//   - OLD NEW: OLD is replaced by NEW wherever it was selected, and references
//     not listed stay as they are (so the stream can be filtered with grep).
//
// Blank lines and lines starting with "#" are ignored.
type Images struct {
	Pairs bool   // the OLD NEW form
	Lines []Line // in stream order; in the OLD NEW form each OLD once, at its first line
}

// Line is one reference line of the stream.
type Line struct {
	N   int    // the line number, from 1
	Old string // the OLD NEW form: the reference replaced; "" in the NEW form
	New string // the replacement
}

// MaxLine bounds one line of the stream: pipeline.MaxLine, the bound
// crane-rebase-stream reads with.
const MaxLine = pipeline.MaxLine

// ParseImages reads a replacement stream. Every reference must be valid, the
// forms may not be mixed, and an OLD may not be given two different NEWs.
//
// The last reference must end with a newline: a stream cut off in the
// middle of a line (a producer killed mid-write, a full disk) would
// otherwise end in a shorter reference that is still valid, such as
// "repo@sha256:D" cut to "repo". crane-rebase-stream and ko-extract end
// every line they write, the last one included.
func ParseImages(r io.Reader) (*Images, error) {
	img := &Images{}
	olds := map[string]int{} // the OLD NEW form: each OLD's index in Lines
	lr := &lastByteReader{r: r}
	sc := bufio.NewScanner(lr)
	sc.Buffer(make([]byte, 4096), MaxLine)
	form := 0
	lastRef := 0 // line number of the last line holding a reference
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if n == 1 {
			line = strings.TrimPrefix(line, "\ufeff") // a BOM from an editor
		}
		if pipeline.Ignored(line) {
			continue
		}
		lastRef = n
		f := pipeline.Fields(line)
		if len(f) > 2 {
			return nil, fmt.Errorf("images line %d: %d fields; want NEW or OLD NEW", n, len(f))
		}
		if form == 0 {
			form = len(f)
			img.Pairs = form == 2
		} else if len(f) != form {
			return nil, fmt.Errorf("images line %d: %d field(s), but earlier lines have %d: do not mix the NEW and OLD NEW forms", n, len(f), form)
		}
		for _, s := range f {
			if !refs.Valid(s) {
				return nil, fmt.Errorf("images line %d: %q is not an image reference", n, s)
			}
		}
		if form == 1 {
			img.Lines = append(img.Lines, Line{N: n, New: f[0]})
			continue
		}
		old, nw := f[0], f[1]
		if i, dup := olds[old]; dup {
			if prev := img.Lines[i]; prev.New != nw {
				return nil, fmt.Errorf("images line %d: %q is given two replacements, %q (line %d) and %q", n, old, prev.New, prev.N, nw)
			}
			continue
		}
		olds[old] = len(img.Lines)
		img.Lines = append(img.Lines, Line{N: n, Old: old, New: nw})
	}
	if err := sc.Err(); err != nil {
		if err == bufio.ErrTooLong {
			return nil, fmt.Errorf("images: a line longer than %d bytes; is this an images stream?", MaxLine)
		}
		return nil, fmt.Errorf("images: %w", err)
	}
	if lastRef == n && n > 0 && lr.last != '\n' {
		return nil, fmt.Errorf("images line %d: the stream ends without a newline, so this line may be cut off: nothing written (end the last line with a newline)", n)
	}
	return img, nil
}

// lastByteReader remembers the last byte read through it.
type lastByteReader struct {
	r    io.Reader
	last byte
}

func (l *lastByteReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if n > 0 {
		l.last = p[n-1]
	}
	return n, err
}
