package rewrite

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"github.com/rebasekit/rebasekit/pkg/pipeline"
	"github.com/rebasekit/rebasekit/pkg/refs"
	"github.com/rebasekit/rebasekit/pkg/yamlwalk"
)

// Plan maps every selected reference (old text) to its replacement. It checks
// everything that can be checked before a byte is written: the count (NEW
// form), that each OLD was selected (pairs form), that no pinned reference
// loses its digest, and that no replacement moves an image to another
// repository unless allowRepoChange (a *RepoChangeError). An OLD that is not
// selected is a *NotSelectedError.
func Plan(occs []*yamlwalk.Occurrence, img *Images, allowRepoChange bool) (map[string]string, error) {
	var uniq []string
	first := map[string]*yamlwalk.Occurrence{}
	for _, o := range pipeline.Unique(occs) {
		uniq = append(uniq, o.Ref)
		first[o.Ref] = o
	}
	from, err := assign(uniq, first, img)
	if err != nil {
		return nil, err
	}
	plan := make(map[string]string, len(from))
	for old, l := range from {
		plan[old] = l.New
	}
	// A rebase never unpins: a pinned reference whose replacement has no
	// digest means a cut or garbled stream, whatever the other checks say.
	for _, old := range uniq {
		if l, ok := from[old]; ok && refs.IsPinned(old) && !refs.IsPinned(l.New) {
			o := first[old]
			return nil, fmt.Errorf("%s:%d:%d: %q would be replaced by %q, which drops its digest: the images stream may be cut off or garbled (images line %d)", o.File, o.Line, o.Column, old, l.New, l.N)
		}
	}
	for _, o := range occs {
		if nw, ok := plan[o.Ref]; ok {
			if err := checkSplit(o, nw); err != nil {
				return nil, err
			}
		}
	}
	if !allowRepoChange {
		for _, old := range uniq {
			nw, ok := plan[old]
			if !ok || nw == old || refs.SameRepository(old, nw) {
				continue
			}
			return nil, &RepoChangeError{At: first[old], Old: old, New: nw}
		}
	}
	return plan, nil
}

// assign gives each unique reference (in first-occurrence order) the line
// of the stream that replaces it: the k-th line in the NEW form; in the OLD
// NEW form the line naming it, if any, after checking that every OLD was
// selected.
func assign(uniq []string, first map[string]*yamlwalk.Occurrence, img *Images) (map[string]Line, error) {
	from := make(map[string]Line, len(uniq))
	if img.Pairs {
		for _, l := range img.Lines {
			if _, ok := first[l.Old]; !ok {
				return nil, &NotSelectedError{Line: l.N, Old: l.Old}
			}
			from[l.Old] = l
		}
		return from, nil
	}
	if len(img.Lines) != len(uniq) {
		return nil, fmt.Errorf("the images stream has %d reference(s) but the input selects %d: the streams are not aligned (truncated or filtered? filter with the OLD NEW form instead)", len(img.Lines), len(uniq))
	}
	for i, old := range uniq {
		from[old] = img.Lines[i]
	}
	return from, nil
}

type edit struct {
	span yamlwalk.Span
	text string
}

// Spliced is the result of Splice.
type Spliced struct {
	Out   []byte   // the new bytes
	Want  []string // what each occurrence must read as in Out
	edits []edit   // sorted by start
}

// Changed reports whether any byte changed.
func (s *Spliced) Changed() bool { return len(s.edits) > 0 }

// MapOffset maps an offset in the input that lies outside every edited span
// to the same place in Out.
func (s *Spliced) MapOffset(off int) int {
	d := 0
	for _, e := range s.edits {
		if e.span.End > off {
			break
		}
		d += len(e.text) - (e.span.End - e.span.Start)
	}
	return off + d
}

// Splice returns src with every occurrence replaced by plan[occ.Ref], and
// the reference each occurrence must read as afterwards. Bytes outside the
// occurrences' spans are copied unchanged. A marker group writes back split:
// its name field keeps its text (unless the repository changes), its tag field
// becomes TAG@sha256:D, or, when it has a digest field, that field gets sha256:D.
func Splice(src []byte, occs []*yamlwalk.Occurrence, plan map[string]string) (*Spliced, error) {
	var edits []edit
	want := make([]string, len(occs))
	for i, o := range occs {
		nw, ok := plan[o.Ref]
		if !ok {
			nw = o.Ref
		}
		want[i] = nw
		if o.Rule != yamlwalk.RuleMarker && o.Rule != yamlwalk.RuleSplit {
			if nw != o.Ref {
				edits = append(edits, edit{o.Span, nw})
			}
			continue
		}
		write := markerEdits
		if o.Rule == yamlwalk.RuleSplit {
			write = splitEdits
		}
		es, got, err := write(o, nw)
		if err != nil {
			return nil, err
		}
		want[i] = got
		edits = append(edits, es...)
	}
	if len(edits) == 0 {
		return &Spliced{Out: src, Want: want}, nil
	}
	sort.SliceStable(edits, func(i, j int) bool { return edits[i].span.Start < edits[j].span.Start })
	grow := 0
	for i, e := range edits {
		if i > 0 && e.span.Start < edits[i-1].span.End {
			return nil, fmt.Errorf("internal error: overlapping edits at bytes %d and %d", edits[i-1].span.Start, e.span.Start)
		}
		grow += len(e.text) - (e.span.End - e.span.Start)
	}
	var out bytes.Buffer
	out.Grow(len(src) + max(grow, 0))
	at := 0
	for _, e := range edits {
		out.Write(src[at:e.span.Start])
		out.WriteString(e.text)
		at = e.span.End
	}
	out.Write(src[at:])
	return &Spliced{Out: out.Bytes(), Want: want, edits: edits}, nil
}

func markerEdits(o *yamlwalk.Occurrence, nw string) ([]edit, string, error) {
	r, ok := refs.Parse(nw)
	if !ok {
		return nil, "", fmt.Errorf("%q is not an image reference", nw)
	}
	parts := map[string]yamlwalk.Part{}
	for _, p := range o.Parts {
		parts[p.Field] = p
	}
	var es []edit
	set := func(p yamlwalk.Part, text string) string {
		if e, ok := setPart(p, text); ok {
			es = append(es, e)
		}
		return text
	}
	if p, ok := parts["ref"]; ok {
		set(p, nw)
		return es, nw, nil
	}
	name := parts["name"]
	tag, hasTag := parts["tag"]
	dig, hasDigest := parts["digest"]
	if !hasTag && !hasDigest {
		set(name, nw)
		return es, nw, nil
	}
	var got string
	if name.Fixed { // the name comes from the group's split map
		old, _ := refs.Parse(o.Ref)
		got = old.Repository
	} else {
		got = set(name, r.Repository)
	}
	switch {
	case hasDigest:
		t := tag.Text
		if hasTag && r.Tag != "" {
			t = set(tag, r.Tag)
		}
		if hasTag && t != "" {
			got += ":" + t
		}
		if d := set(dig, r.Digest); d != "" {
			got += "@" + d
		}
	default: // tag field only: it takes TAG@sha256:D
		t := r.Tag
		if t == "" {
			t, _, _ = strings.Cut(tag.Text, "@")
		}
		if r.Digest != "" {
			t += "@" + r.Digest
		}
		if t = set(tag, t); t != "" {
			got += ":" + t
		}
	}
	return es, got, nil
}

// Verify re-walks the spliced output with the walker that selected occs and
// checks that the k-th occurrence now reads Want[k] at the same place in the
// document structure, and that nothing else was selected or lost.
//
// Only documents that changed are parsed again: docStarts (from
// yamlwalk.CollectDocs) cut the output into documents, and each changed one
// must parse on its own as exactly one document with the expected
// occurrences. Replacements are references, which hold no line breaks,
// quotes or indicators, so they cannot move a document boundary; the check
// would catch it if they did. When the input has directives (%YAML, %TAG),
// which belong to the next document, the whole output is parsed instead.
func Verify(w *yamlwalk.Walker, file string, s *Spliced, occs []*yamlwalk.Occurrence, docStarts []int) error {
	if !s.Changed() {
		return nil
	}
	quiet := *w
	quiet.Warn, quiet.Bare = nil, nil
	if docStarts == nil || hasDirective(s.Out) {
		got, err := quiet.Collect(file, s.Out)
		if err != nil {
			return fmt.Errorf("the rewritten %s does not parse: %w", file, err)
		}
		return compare(got, occs, s.Want, false)
	}
	// Group the occurrences by document.
	for i := 0; i < len(occs); {
		d := occs[i].Doc
		j := i
		for j < len(occs) && occs[j].Doc == d {
			j++
		}
		if d >= len(docStarts) {
			return fmt.Errorf("internal error: occurrence in document %d of %d", d, len(docStarts))
		}
		start, end := s.MapOffset(docStarts[d]), len(s.Out)
		if d+1 < len(docStarts) {
			end = s.MapOffset(docStarts[d+1])
		}
		got, err := quiet.Collect(file, s.Out[start:end])
		if err != nil {
			return fmt.Errorf("the rewritten document %d of %s does not parse: %w", d, file, err)
		}
		if err := compare(got, occs[i:j], s.Want[i:j], true); err != nil {
			return err
		}
		i = j
	}
	return nil
}

func hasDirective(b []byte) bool {
	return bytes.HasPrefix(b, []byte("%")) || bytes.Contains(b, []byte("\n%")) || bytes.Contains(b, []byte("\r%"))
}

func compare(got, occs []*yamlwalk.Occurrence, want []string, oneDoc bool) error {
	for i := 0; i < len(got) || i < len(occs); i++ {
		switch {
		case i >= len(got):
			o := occs[i]
			return fmt.Errorf("%s:%d:%d: after rewriting, %q is no longer selected", o.File, o.Line, o.Column, want[i])
		case i >= len(occs):
			return fmt.Errorf("after rewriting, %q is selected at %s where nothing was", got[i].Ref, got[i].Path)
		case oneDoc && got[i].Doc != 0, !oneDoc && got[i].Doc != occs[i].Doc:
			o := occs[i]
			return fmt.Errorf("%s:%d:%d: after rewriting, a document boundary moved", o.File, o.Line, o.Column)
		case got[i].Ref != want[i] || got[i].Path != occs[i].Path:
			o := occs[i]
			return fmt.Errorf("%s:%d:%d: after rewriting, expected %q at %s, found %q at %s", o.File, o.Line, o.Column, want[i], o.Path, got[i].Ref, got[i].Path)
		}
	}
	return nil
}
