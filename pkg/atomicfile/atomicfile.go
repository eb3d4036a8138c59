package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Write replaces the file at path with data: it writes a temporary file
// beside it, syncs it, gives it the original's permission bits and renames it
// over the original, then syncs the directory. path must not be a symlink;
// resolve it first, so that the link stays a link.
func Write(path string, data []byte) (err error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", path)
	}
	return put(path, data, fi.Mode().Perm())
}

// Create puts data at path whole, creating the file with permission bits
// perm or replacing it (and its bits): an output written at the end of a
// run (a summary) is then the old file or the new one, never a part.
func Create(path string, data []byte, perm fs.FileMode) error {
	return put(path, data, perm)
}

// CheckWritable reports whether Create could write at path, by creating and
// removing a temporary file beside it: call it before the work whose result
// the file is to hold.
func CheckWritable(path string) error {
	tmp, err := createBeside(path)
	if err != nil {
		return err
	}
	tmp.Close()
	return os.Remove(tmp.Name())
}

func put(path string, data []byte, perm fs.FileMode) (err error) {
	tmp, err := createBeside(path)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Chmod(perm); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, derr := os.Open(filepath.Dir(path)); derr == nil {
		d.Sync() // best effort: the rename is durable on most filesystems only after this
		d.Close()
	}
	return nil
}

// createBeside creates the temporary file path is written through, in
// path's directory (a rename within one filesystem). Its error names path
// and its directory, not the temporary file's name.
func createBeside(path string) (*os.File, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".rebasekit-*")
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return nil, fmt.Errorf("cannot create %s: %s: %w", path, filepath.Clean(dir), pe.Err)
	}
	return tmp, err
}
