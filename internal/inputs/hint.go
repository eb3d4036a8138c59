package inputs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// NotWalked says, for a directory given without -R, how many of its
// subdirectories hold YAML that -R would walk; "" when none does (or arg is
// not a directory). Counting uses the walker's own rules (Expand with
// recursion), so the number is what -R would add.
func NotWalked(arg string) string {
	if arg == "-" {
		return ""
	}
	if fi, err := os.Stat(arg); err != nil || !fi.IsDir() {
		return ""
	}
	flat, err := Expand([]string{arg}, false)
	if err != nil {
		return ""
	}
	deep, err := Expand([]string{arg}, true)
	if err != nil {
		return ""
	}
	inFlat := map[string]bool{}
	for _, in := range flat {
		inFlat[in.Name] = true
	}
	subdirs := map[string]bool{}
	files := 0
	for _, in := range deep {
		if inFlat[in.Name] {
			continue
		}
		rel, err := filepath.Rel(arg, in.Name)
		if err != nil {
			continue
		}
		files++
		subdirs[strings.SplitN(filepath.ToSlash(rel), "/", 2)[0]] = true
	}
	if files == 0 {
		return ""
	}
	return fmt.Sprintf("%s: %s with %s not walked; give -R to walk them",
		arg, plural(len(subdirs), "subdirectory", "subdirectories"), plural(files, "YAML file", "YAML files"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// CheckInPlace refuses, for ko-rewrite -i, a file found inside a given
// directory that is a symlink to a file outside that directory: writing
// through it would change a file the user did not name. A symlink named directly with -f is
// written through (the link stays a link).
func CheckInPlace(args []string, ins []Input) error {
	var dirs []string
	for _, a := range args {
		if fi, err := os.Stat(a); err == nil && fi.IsDir() {
			if real, err := filepath.EvalSymlinks(a); err == nil {
				if abs, err := filepath.Abs(real); err == nil {
					dirs = append(dirs, abs)
				}
			}
		}
	}
	named := map[string]bool{}
	for _, a := range args {
		named[filepath.Clean(a)] = true
	}
	for _, in := range ins {
		if named[filepath.Clean(in.Name)] {
			continue
		}
		inside := false
		for _, d := range dirs {
			if in.Real == d || strings.HasPrefix(in.Real, d+string(filepath.Separator)) {
				inside = true
			}
		}
		if !inside {
			return fmt.Errorf("%s is a symlink to %s, outside the directories given; refusing to write through it with -i (name it with -f to allow)", in.Name, in.Real)
		}
	}
	return nil
}
