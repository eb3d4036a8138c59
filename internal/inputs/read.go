package inputs

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// MaxInputSize bounds what is read from one input, so a runaway stream is an
// error instead of an exhausted machine.
const MaxInputSize = 1 << 30

// Read returns the contents of in, read to the end: a file's size is only a
// hint for the buffer, since a file can grow while it is read and procfs or
// FUSE files report 0.
func (in Input) Read(stdin io.Reader) ([]byte, error) {
	var r io.Reader = stdin
	size := 0
	if in.Real != "" {
		f, err := os.Open(in.Real)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			if fi.Size() > MaxInputSize {
				return nil, fmt.Errorf("%s: larger than %d bytes", in.Name, MaxInputSize)
			}
			size = int(fi.Size())
		}
		r = f
	}
	var buf bytes.Buffer
	buf.Grow(size + 512) // one more read finds EOF without growing
	if _, err := buf.ReadFrom(io.LimitReader(r, MaxInputSize+1)); err != nil {
		return nil, fmt.Errorf("%s: %w", in.Name, err)
	}
	if buf.Len() > MaxInputSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", in.Name, MaxInputSize)
	}
	return buf.Bytes(), nil
}
