package rewrite

import (
	"fmt"
	"strings"

	"github.com/rebasekit/rebasekit/pkg/refs"
	"github.com/rebasekit/rebasekit/pkg/yamlwalk"
)

// A split reference (and a marker group whose name comes from its map) is
// written back into its parts: its registry and repository never change, its
// tag is pinned, never changed.

// fixedRepository reports whether o's repository is written in parts that
// are never rewritten.
func fixedRepository(o *yamlwalk.Occurrence) bool {
	if o.Rule == yamlwalk.RuleSplit {
		return true
	}
	for _, p := range o.Parts {
		if p.Fixed {
			return true
		}
	}
	return false
}

// checkSplit refuses a replacement that would change what a split
// reference never changes: its repository (a *RepoChangeError, even when
// repository changes are allowed) and, for the split rule, its tag.
func checkSplit(o *yamlwalk.Occurrence, nw string) error {
	if nw == o.Ref || !fixedRepository(o) {
		return nil
	}
	if !refs.SameRepository(o.Ref, nw) {
		return &RepoChangeError{At: o, Old: o.Ref, New: nw, Fixed: true}
	}
	old, _ := refs.Parse(o.Ref)
	r, ok := refs.Parse(nw)
	if o.Rule == yamlwalk.RuleSplit && ok && r.Tag != "" && r.Tag != old.Tag {
		return fmt.Errorf("%s:%d:%d: %q would be replaced by %q, which has another tag: the tag of a split reference is only pinned, never changed; edit it by hand", o.File, o.Line, o.Column, o.Ref, nw)
	}
	return nil
}

// setPart returns the edit that makes p hold text, if any: a value written
// into an empty field takes the field's Lead before it.
func setPart(p yamlwalk.Part, text string) (edit, bool) {
	if p.Empty && text == "" || !p.Empty && text == p.Text {
		return edit{}, false
	}
	if p.Empty {
		text = p.Lead + text
	}
	return edit{p.Span, text}, true
}

// splitEdits writes nw into the parts of split reference o: the digest into
// the digest field when there is one (a kustomize entry always has one, or
// a place for a new line; a Helm sha field takes it in the form it has), and
// onto the tag as TAG@sha256:D when there is none or when the tag holds a
// digest too (Renovate). A tag beside a digest field never gains a digest:
// the chart composes the two, and often reads the tag as a version. It returns the edits
// and the reference o reads as afterwards.
func splitEdits(o *yamlwalk.Occurrence, nw string) ([]edit, string, error) {
	if err := checkSplit(o, nw); err != nil {
		return nil, "", err
	}
	old, _ := refs.Parse(o.Ref)
	r, ok := refs.Parse(nw)
	if !ok {
		return nil, "", fmt.Errorf("%q is not an image reference", nw)
	}
	if r.Digest == "" || r.Digest == old.Digest {
		return nil, o.Ref, nil
	}
	var tag, digest *yamlwalk.Part
	for i := range o.Parts {
		switch o.Parts[i].Field {
		case "tag":
			tag = &o.Parts[i]
		case "digest":
			digest = &o.Parts[i]
		}
	}
	var es []edit
	add := func(p yamlwalk.Part, text string) {
		if e, ok := setPart(p, text); ok {
			es = append(es, e)
		}
	}
	if digest != nil {
		text := r.Digest
		if digest.Hex { // a Helm sha field, rendered @sha256:{{ .sha }}
			text = strings.TrimPrefix(text, "sha256:")
		}
		add(*digest, text)
	}
	if tag != nil && !tag.Empty && (digest == nil || strings.Contains(tag.Text, "@")) {
		t, _, _ := strings.Cut(tag.Text, "@")
		add(*tag, t+"@"+r.Digest)
	} else if digest == nil {
		return nil, "", fmt.Errorf("internal error: %s:%d:%d: split reference %q has neither a tag nor a digest field", o.File, o.Line, o.Column, o.Ref)
	}
	old.Digest = r.Digest
	return es, old.String(), nil
}
