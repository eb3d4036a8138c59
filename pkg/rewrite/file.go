package rewrite

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/rebasekit/rebasekit/pkg/yamlwalk"
)

// File rewrites one YAML file in one call: it walks src (the contents of the
// file called name, for messages) with w, plans the replacements of img,
// splices them into a copy of src and verifies the result by walking it
// again. It returns the new bytes, or src itself when nothing changes. A
// replacement that names another repository is refused; a Rewriter with
// AllowRepoChange allows it, and rewrites several files with one stream.
func File(w *yamlwalk.Walker, name string, src []byte, img *Images) ([]byte, error) {
	r := &Rewriter{Walker: w}
	f, err := r.Add(name, src)
	if err != nil {
		return nil, err
	}
	if err := r.Rewrite(img); err != nil {
		return nil, err
	}
	return f.Out, nil
}

// A Rewriter rewrites a set of YAML files with one replacement stream, the
// way ko-rewrite does: Add walks each file, Rewrite plans the replacements
// over all of them (line k of a NEW-form stream replaces the k-th unique
// reference of the whole set, as ko-extract printed it), then splices and
// verifies every file. Nothing is written anywhere: each File's Out holds
// its new bytes, for the caller to write.
type Rewriter struct {
	// Walker selects the references; it must select as the walker that
	// produced the stream's input did. nil is the zero Walker.
	Walker *yamlwalk.Walker
	// AllowRepoChange allows a replacement to name another repository than
	// the reference it replaces.
	AllowRepoChange bool
	// Planned, when set, is called for every occurrence in every file once
	// the plan has passed its checks and before anything is spliced, with
	// its replacement; replaced is false (and to is o.Ref) when the stream
	// leaves it as it is.
	Planned func(o *yamlwalk.Occurrence, to string, replaced bool)

	files []*Target
}

// Target is one file of a Rewriter's set: its bytes, what the walker
// selected in it and, after Rewrite, its new bytes.
type Target struct {
	Name        string                 // as given to Add, in messages
	Src         []byte                 // as given to Add; never modified
	Occurrences []*yamlwalk.Occurrence // what the walker selected, in input order
	// Out is set by a successful Rewrite: the verified new bytes, or Src
	// itself when nothing in the file changes.
	Out []byte

	docStarts []int
}

// Changed reports whether the rewrite changed the file.
func (f *Target) Changed() bool { return f.Out != nil && !bytes.Equal(f.Out, f.Src) }

// VerifyError is a rewrite that splicing produced but the re-walk refused:
// the output would not read as planned. Nothing should be written.
type VerifyError struct {
	File string
	Err  error
}

func (e *VerifyError) Error() string { return e.Err.Error() }
func (e *VerifyError) Unwrap() error { return e.Err }

// Add walks src, the contents of the file called name, and adds it to the
// set. Invalid YAML is a *yamlwalk.SyntaxError; the file is then not added.
func (r *Rewriter) Add(name string, src []byte) (*Target, error) {
	occs, docStarts, err := r.walker().CollectDocs(name, src)
	if err != nil {
		return nil, err
	}
	f := &Target{Name: name, Src: src, Occurrences: occs, docStarts: docStarts}
	r.files = append(r.files, f)
	return f, nil
}

// Files returns the files added, in order.
func (r *Rewriter) Files() []*Target { return r.files }

// Occurrences returns the occurrences of every file added, in order.
func (r *Rewriter) Occurrences() []*yamlwalk.Occurrence {
	var all []*yamlwalk.Occurrence
	for _, f := range r.files {
		all = append(all, f.Occurrences...)
	}
	return all
}

// Rewrite plans img over every file added (see Plan for what it refuses),
// then splices and verifies each file, setting its Out. On any error no
// file's Out is set: a failed rewrite rewrites nothing. A verification
// failure is a *VerifyError.
func (r *Rewriter) Rewrite(img *Images) error {
	if img == nil {
		return errors.New("rewrite: no images stream")
	}
	all := r.Occurrences()
	plan, err := Plan(all, img, r.AllowRepoChange)
	if err != nil {
		return err
	}
	if r.Planned != nil {
		for _, o := range all {
			to, ok := plan[o.Ref]
			if !ok {
				to = o.Ref
			}
			r.Planned(o, to, ok)
		}
	}
	outs := make([][]byte, len(r.files))
	for i, f := range r.files {
		s, err := Splice(f.Src, f.Occurrences, plan)
		if err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
		if err := Verify(r.walker(), f.Name, s, f.Occurrences, f.docStarts); err != nil {
			return &VerifyError{File: f.Name, Err: err}
		}
		outs[i] = s.Out
	}
	for i, f := range r.files {
		f.Out = outs[i]
	}
	return nil
}

func (r *Rewriter) walker() *yamlwalk.Walker {
	if r.Walker == nil {
		return &yamlwalk.Walker{}
	}
	return r.Walker
}
