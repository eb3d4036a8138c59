package yamlwalk

import (
	"bytes"
	"fmt"
	"io"

	yaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// Rule names the selection rule that chose an occurrence.
type Rule string

// The selection rules, in the order the package documentation gives them.
const (
	RuleKey      Rule = "key"
	RulePinned   Rule = "pinned"
	RulePrefix   Rule = "prefix"
	RuleEmbedded Rule = "embedded"
	RuleMarker   Rule = "marker"
	RuleSplit    Rule = "split"
)

// Span is a half-open range of byte offsets [Start, End) in the input.
type Span struct {
	Start, End int
}

// Part is one field of a marker group or a split reference: the text of
// Field ("name", "tag", "digest", "ref" for a whole-reference marker;
// "registry" and "repository" in a Helm image map) at Span.
type Part struct {
	Field string
	Span  Span
	Text  string // exactly what Span holds ("~" for a null written so)
	// Empty: the field is there but holds no value ("", ~, nothing). A value
	// written into it replaces Span, preceded by Lead: " " after a bare
	// colon, a new "digest: " line for a kustomize entry without one.
	Empty bool
	Lead  string
	// Fixed parts are never written: the registry and repository of a
	// split reference, and a name a marker group takes from its map.
	Fixed bool
	// Hex: a digest field that holds the digest's hex only, without
	// "sha256:" (a Helm map's "sha", its chart adds the prefix), and is
	// written so; also when it is empty.
	Hex bool
}

// Occurrence is one selected image reference.
type Occurrence struct {
	File   string `json:"file"`
	Line   int    `json:"line"`   // 1-based
	Column int    `json:"column"` // 1-based, in characters; a BOM is not counted
	Doc    int    `json:"doc"`    // 0-based document index in the file
	Path   string `json:"path"`   // e.g. spec.template.spec.containers[0].image
	Rule   Rule   `json:"rule"`
	Ref    string `json:"ref"` // exactly as written (for markers: the combination)
	Marker string `json:"marker,omitempty"`

	// Span holds the bytes of Ref for every rule but marker and split; those
	// hold their fields in Parts, and Span is that of the name part.
	Span  Span   `json:"-"`
	Parts []Part `json:"-"`
}

// Walker holds the selection settings. The zero value selects by the key,
// pinned, embedded-pinned and marker rules.
type Walker struct {
	// Prefixes activate the prefix rule and restrict rules 1 to 4 to
	// references under them.
	Prefixes []string
	// OfficialImages reads a Docker Hub prefix of one component ("mariadb",
	// "docker.io/mariadb") also as the official image of that name
	// (library/mariadb) in whole strings and image maps, never in tokens of
	// a longer string: set it when a user names the prefixes. Leave it off
	// for a prefix that is a user's namespace (ko's push target: ko never
	// pushes to library/, and "alice:staff" is not alice's image).
	OfficialImages bool
	// Bare, when set, receives each whole string or image map under a
	// prefix that is not selected because it names a bare repository, with
	// no tag or digest ("image: ghcr.io/acme/app", a Flux ImageRepository's
	// spec.image): what a prefix that selects nothing holds instead, so
	// that it is not taken for a typo. Position is that of the scalar (for
	// an image map, its repository); repo is as written.
	Bare func(file string, line, column int, repo string)
	// Warn, when set, receives warnings (unresolved ko:// references,
	// markers that cannot be combined), each already prefixed with FILE:LINE:COL.
	Warn func(msg string)
}

// SyntaxError is invalid input, with the position it was found at.
type SyntaxError struct {
	File         string
	Line, Column int
	Msg          string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
}

// Walk parses src (the contents of file) and calls fn for every selected
// occurrence, in input order. It stops at the first error fn returns. Invalid
// YAML yields a *SyntaxError.
func (w *Walker) Walk(file string, src []byte, fn func(*Occurrence) error) error {
	return w.walk(file, src, fn, nil)
}

// Collect returns every occurrence in src.
func (w *Walker) Collect(file string, src []byte) ([]*Occurrence, error) {
	occs, _, err := w.CollectDocs(file, src)
	return occs, err
}

// CollectDocs returns every occurrence in src and the byte offset where each
// document starts: 0 for the first, the position of its "---" (or of its
// content) for the others. Document k spans [starts[k], starts[k+1]).
func (w *Walker) CollectDocs(file string, src []byte) ([]*Occurrence, []int, error) {
	var out []*Occurrence
	var starts []int
	err := w.walk(file, src, func(o *Occurrence) error {
		out = append(out, o)
		return nil
	}, func(start int) { starts = append(starts, start) })
	return out, starts, err
}

func (w *Walker) walk(file string, src []byte, fn func(*Occurrence) error, docStart func(int)) error {
	if err := checkEncoding(file, src); err != nil {
		return err
	}
	st := &walkState{w: w, file: file, src: src, loc: newLocator(src), prefixes: newPrefixSet(w.Prefixes, w.OfficialImages)}
	dec := yaml.NewDecoder(bytes.NewReader(yaml12Directives(src)))
	for doc := 0; ; doc++ {
		var n yaml.Node
		err := dec.Decode(&n)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return st.syntaxError(err)
		}
		st.lastDocLine = n.Line
		if docStart != nil {
			start := 0
			if doc > 0 {
				var ok bool
				if start, ok = st.loc.offset(n.Line, n.Column); !ok {
					return &SyntaxError{File: file, Line: n.Line, Column: n.Column, Msg: "cannot locate the start of the document"}
				}
			}
			docStart(start)
		}
		st.doc = doc
		st.occs = st.occs[:0]
		st.markers = nil
		st.unsorted = false
		st.kustomize = isKustomization(file, &n)
		st.imageRepo = isImageRepository(&n)
		st.path = st.path[:0]
		if err := st.node(&n, false); err != nil {
			return err
		}
		for _, o := range st.finishDoc() {
			if err := fn(o); err != nil {
				return err
			}
		}
	}
}
