// Package inputs turns the -f arguments of ko-extract and ko-rewrite into
// the files they read, in input order: files as named, directories expanded
// to their YAML files (with -R, recursively), symlinks resolved so a file is
// read once, and special files inside a directory refused. It also reads
// them, and says what a directory given without -R leaves unread.
package inputs

import (
	"fmt"
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

// Expand expands the -f arguments into files in input order: files in the
// order given, a directory's .yaml, .yml and .json files sorted by path (with
// recursive, its subdirectories too). A file reached twice, through symlinks
// or by being named twice, is read once, at its first place. A symlink to a
// directory is not followed inside a recursive walk, so a walk cannot loop or
// leave the tree by surprise. "-" is standard input.
func Expand(args []string, recursive bool) ([]Input, error) {
	if len(args) == 0 {
		args = []string{"-"}
	}
	l := &list{seen: map[string]bool{}}
	stdin := false
	for _, a := range args {
		if a == "-" {
			if stdin {
				return nil, fmt.Errorf("standard input (-) given twice")
			}
			stdin = true
			l.out = append(l.out, Input{Name: Stdin})
			continue
		}
		fi, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			if err := l.add(a); err != nil {
				return nil, err
			}
			continue
		}
		files, err := yamlFiles(a, recursive)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if err := l.add(f); err != nil {
				return nil, err
			}
		}
	}
	return l.out, nil
}

// list is the inputs found so far, each real file once.
type list struct {
	out  []Input
	seen map[string]bool
}

func (l *list) add(name string) error {
	real, err := filepath.EvalSymlinks(name)
	if err != nil {
		return err
	}
	if abs, err := filepath.Abs(real); err == nil {
		real = abs
	}
	if l.seen[real] {
		return nil
	}
	l.seen[real] = true
	l.out = append(l.out, Input{Name: name, Real: real})
	return nil
}

// yamlFiles lists the YAML files in dir (and, with recursive, under it),
// sorted by path.
func yamlFiles(dir string, recursive bool) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != dir && !recursive {
				return filepath.SkipDir
			}
			return nil
		}
		if !isYAMLName(p) {
			return nil
		}
		ok, err := regularFile(p, d)
		if ok {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	return files, nil
}

// regularFile reports whether the directory entry d at p is a file to read:
// a regular file, or a symlink to one. A symlink to a directory is skipped;
// anything else is refused.
func regularFile(p string, d fs.DirEntry) (bool, error) {
	mode := d.Type()
	if mode&fs.ModeSymlink != 0 {
		// A symlink to a file counts; one to a directory is not followed.
		fi, err := os.Stat(p)
		if err != nil {
			return false, fmt.Errorf("%s: a symlink to nothing readable: %w", p, err)
		}
		if fi.IsDir() {
			return false, nil
		}
		mode = fi.Mode().Type()
	}
	if !mode.IsRegular() {
		// A named pipe would block the walk until something writes to
		// it, a device would never end: refuse them here. Named on the
		// command line, they are read.
		return false, fmt.Errorf("%s: not a regular file (%s); name it with -f to read it", p, fileKind(mode))
	}
	return true, nil
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
