package yamlwalk

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Stdin is the name an input read from standard input is given in messages.
const Stdin = "<stdin>"

// Input is one file to walk.
type Input struct {
	Name string // as given, or a path under a given directory; Stdin for "-"
	Real string // the resolved path, "" for stdin
}

// Inputs expands the -f arguments into files in input order: files in the
// order given, a directory's .yaml, .yml and .json files sorted by path (with
// recursive, its subdirectories too). A file reached twice, through symlinks
// or by being named twice, is read once, at its first place. A symlink to a
// directory is not followed inside a recursive walk, so a walk cannot loop or
// leave the tree by surprise. "-" is standard input.
func Inputs(args []string, recursive bool) ([]Input, error) {
	if len(args) == 0 {
		args = []string{"-"}
	}
	var out []Input
	seen := map[string]bool{}
	add := func(name string) error {
		real, err := filepath.EvalSymlinks(name)
		if err != nil {
			return err
		}
		if abs, err := filepath.Abs(real); err == nil {
			real = abs
		}
		if seen[real] {
			return nil
		}
		seen[real] = true
		out = append(out, Input{Name: name, Real: real})
		return nil
	}
	stdin := false
	for _, a := range args {
		if a == "-" {
			if stdin {
				return nil, fmt.Errorf("standard input (-) given twice")
			}
			stdin = true
			out = append(out, Input{Name: Stdin})
			continue
		}
		fi, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			if err := add(a); err != nil {
				return nil, err
			}
			continue
		}
		var files []string
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if p != a && !recursive {
					return filepath.SkipDir
				}
				return nil
			}
			if !isYAMLName(p) {
				return nil
			}
			mode := d.Type()
			if mode&fs.ModeSymlink != 0 {
				// A symlink to a file counts; one to a directory is not followed.
				fi, err := os.Stat(p)
				if err != nil {
					return fmt.Errorf("%s: a symlink to nothing readable: %w", p, err)
				}
				if fi.IsDir() {
					return nil
				}
				mode = fi.Mode().Type()
			}
			if !mode.IsRegular() {
				// A named pipe would block the walk until something
				// writes to it, a device would never end: refuse them
				// here. Named on the command line, they are read.
				return fmt.Errorf("%s: not a regular file (%s); name it with -f to read it", p, fileKind(mode))
			}
			files = append(files, p)
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(files)
		for _, f := range files {
			if err := add(f); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "mode " + m.String()
}

func isYAMLName(p string) bool {
	switch strings.ToLower(filepath.Ext(p)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

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
