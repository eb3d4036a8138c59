// Package yamlwalk finds the image references in Kubernetes YAML and says
// exactly which bytes hold each one.
//
// It is the one walker that both ko-extract and ko-rewrite use, so the k-th
// reference one prints is the k-th reference the other replaces. It parses with
// kyaml (go.yaml.in/yaml/v3 nodes) one document at a time, but never
// re-serialises: every Occurrence carries the byte span of the reference in the
// original input, and a rewrite splices new text into those spans.
//
// # Selection rules
//
// A string scalar in any style (plain, single- or double-quoted, literal |,
// folded >) is selected when:
//
//  1. key: it is the value of a mapping key named exactly "image" and is a
//     valid reference ("image: nginx:1.27").
//  2. pinned: the whole scalar is a reference pinned by digest
//     ("queue-sidecar-image: gcr.io/x/queue@sha256:…"), under any key or in any
//     sequence, block or flow.
//  3. prefix: prefixes are active and the whole scalar is a reference whose
//     repository is a prefix or lies under one at a "/" boundary.
//  4. embedded: a token of a longer scalar, split on whitespace, "=", ",", and
//     quotes, that satisfies rule 2 or 3 ("--sidecar=gcr.io/x@sha256:…").
//  5. marker: fields carrying a setter comment. Stacker's
//     `# {"$rebase": "ID:name"}` and `# {"$rebase": "ID:tag"}` combine per
//     document into NAME:TAG; Flux's `# {"$imagepolicy": "NS:POLICY"}` marks a
//     whole reference and its ":name", ":tag" and ":digest" forms combine the
//     same way. Markers are selected whatever the prefixes.
//  6. split: a reference written in parts, a Helm image map ([registry],
//     repository, tag and/or digest) or an entry of a Kustomization's
//     top-level images: (name/newName, newTag, digest); selected like a whole
//     string, its fields never on their own (see split.go).
//
// Prefixes match as a registry reads references: docker.io/acme,
// index.docker.io/acme and acme are one prefix (see prefix.go).
//
// When prefixes are active, rules 1 to 4 select only references under them.
// Comments, mapping keys, aliases, non-string scalars and strings that are not
// references are never selected; "ko://" strings draw a warning instead.
package yamlwalk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rebasekit/rebasekit/pkg/refs"
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
	st := &walkState{w: w, file: file, src: src, loc: newLocator(src), prefixes: newPrefixSet(w.Prefixes)}
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

type pathElem struct {
	key   string
	index int // -1 for a key
}

type markerField struct {
	node     *yaml.Node
	path     string
	field    string // ref, name, tag, digest
	part     Part
	imageKey bool      // the value of an image: key, for the key rule when the group fails
	host     *splitMap // the split map the field is a part of, or nil
}

type markerGroup struct {
	id     string // `$rebase "x"` as shown to users
	fields []markerField
}

type walkState struct {
	w           *Walker
	lastDocLine int // line of the last document parsed, for errors without a line
	file        string
	src         []byte
	loc         *locator
	doc         int
	path        []pathElem
	occs        []*Occurrence
	markers     []*markerGroup
	prefixes    *prefixSet
	kustomize   bool   // the document is a Kustomization
	unsorted    bool   // occs are not in input order (split references)
	pathOver    string // when set, the path emit reports (a marker field's)
}

func (st *walkState) node(n *yaml.Node, imageKey bool) error {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			if err := st.node(c, false); err != nil {
				return err
			}
		}
	case yaml.MappingNode:
		if sm := st.splitCandidate(n); sm != nil {
			return st.splitMapping(n, sm)
		}
		beside := besideParts(n)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if beside && st.imageInParts(k, v) {
				continue
			}
			st.path = append(st.path, pathElem{key: k.Value, index: -1})
			if err := st.mappingValue(k, v); err != nil {
				return err
			}
			st.path = st.path[:len(st.path)-1]
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			st.path = append(st.path, pathElem{index: i})
			if err := st.node(c, false); err != nil {
				return err
			}
			st.path = st.path[:len(st.path)-1]
		}
	case yaml.ScalarNode:
		return st.scalar(n, imageKey, n.LineComment)
	}
	// Aliases are not occurrences: the anchored node is.
	return nil
}

func (st *walkState) mappingValue(k, v *yaml.Node) error {
	imageKey := k.Kind == yaml.ScalarNode && k.Value == "image"
	if v.Kind == yaml.ScalarNode {
		return st.scalar(v, imageKey, valueComment(k, v))
	}
	return st.node(v, imageKey)
}

func (st *walkState) renderPath() string {
	if st.pathOver != "" {
		return st.pathOver
	}
	var b strings.Builder
	for _, e := range st.path {
		if e.index >= 0 {
			b.WriteString("[")
			b.WriteString(strconv.Itoa(e.index))
			b.WriteString("]")
			continue
		}
		if simpleKey(e.key) {
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(e.key)
		} else {
			b.WriteString("[")
			b.WriteString(strconv.Quote(e.key))
			b.WriteString("]")
		}
	}
	return b.String()
}

func simpleKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c == '-' || c == '_' || c == '/' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

var (
	styleDouble  = yaml.DoubleQuotedStyle
	styleSingle  = yaml.SingleQuotedStyle
	styleLiteral = yaml.LiteralStyle
	styleFolded  = yaml.FoldedStyle
)

func (st *walkState) scalar(n *yaml.Node, imageKey bool, comment string) error {
	if comment != "" && strings.Contains(comment, `"$`) {
		if id, field, ok := parseMarker(comment); ok {
			st.markerField(n, id, field, nil, imageKey)
			return nil
		}
	}
	return st.plainScalar(n, imageKey)
}

// plainScalar applies the key, pinned, prefix and embedded rules.
func (st *walkState) plainScalar(n *yaml.Node, imageKey bool) error {
	if n.Tag != "!!str" {
		return nil
	}
	v := n.Value
	if n.Style&(styleLiteral|styleFolded) != 0 {
		v = strings.TrimRight(v, "\n")
	}
	if strings.HasPrefix(v, "ko://") {
		st.warnKo(n)
		return nil
	}
	prefixes := len(st.w.Prefixes) > 0
	// Cheap gates first: most strings in a release file are not references.
	mayPin := strings.Contains(v, "@sha256:")
	mayPrefix := prefixes && st.prefixes.mayHold(v)
	if !imageKey && !mayPin && !mayPrefix {
		return nil
	}
	if r, ok := refs.Parse(v); ok {
		rule := RuleKey
		switch {
		case imageKey:
		case r.Pinned():
			rule = RulePinned
		case prefixes && r.Tag != "":
			// The prefix rule wants a tag or digest written: a bare
			// "gcr.io/a" is more often a repository setting than an image.
			rule = RulePrefix
		default:
			return nil
		}
		if prefixes && !st.prefixes.holds(r.Repository) {
			return nil
		}
		start, end, ok := st.locateValue(n)
		if !ok {
			return nil
		}
		at := bytes.Index(st.src[start:end], []byte(v))
		if at < 0 {
			st.warnAt(n, "image reference %q is written with escapes; not selected", v)
			return nil
		}
		st.emit(rule, v, Span{start + at, start + at + len(v)})
		return nil
	}
	if !mayPin && !mayPrefix {
		return nil
	}
	return st.embedded(n, v)
}

// embedded applies the embedded rule: tokens of a longer string, left to
// right. Each token is looked for after the one before it, selected or not,
// so a token is found at its own place, never inside an earlier one.
func (st *walkState) embedded(n *yaml.Node, v string) error {
	prefixes := len(st.w.Prefixes) > 0
	toks := tokens(v)
	selected := make([]bool, len(toks))
	any := false
	for i, tok := range toks {
		if strings.HasPrefix(tok, "ko://") {
			st.warnKo(n)
			continue
		}
		if r, ok := refs.Parse(tok); ok {
			selected[i] = prefixes && st.prefixes.holds(r.Repository) && (r.Tag != "" || r.Pinned()) || !prefixes && r.Pinned()
			any = any || selected[i]
		}
	}
	if !any {
		return nil
	}
	start, end, ok := st.locateValue(n)
	if !ok {
		return nil
	}
	for i, tok := range toks {
		at := bytes.Index(st.src[start:end], []byte(tok))
		if at < 0 {
			if selected[i] {
				st.warnAt(n, "image reference %q is written with escapes; not selected", tok)
			}
			continue
		}
		if selected[i] {
			st.emit(RuleEmbedded, tok, Span{start + at, start + at + len(tok)})
		}
		start += at + len(tok)
	}
	return nil
}

func (st *walkState) emit(rule Rule, ref string, sp Span) {
	line, col := st.loc.position(sp.Start)
	st.occs = append(st.occs, &Occurrence{
		File: st.file, Line: line, Column: col, Doc: st.doc,
		Path: st.renderPath(), Rule: rule, Ref: ref, Span: sp,
	})
}

// warnAt warns about node n, prefixing FILE:LINE:COL.
func (st *walkState) warnAt(n *yaml.Node, format string, args ...any) {
	if st.w.Warn != nil {
		st.w.Warn(fmt.Sprintf("%s:%d:%d: ", st.file, n.Line, n.Column) + fmt.Sprintf(format, args...))
	}
}

// warnKo says that n holds a ko:// reference: the release was not resolved.
func (st *walkState) warnKo(n *yaml.Node) {
	if st.w.Warn != nil {
		st.w.Warn(fmt.Sprintf("unresolved ko:// reference at %s:%d:%d; run ko resolve first", st.file, n.Line, n.Column))
	}
}

// tokens splits s on whitespace, '=', ',' and quotes.
func tokens(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		switch r {
		case '=', ',', '"', '\'', '`':
			return true
		}
		return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f' || r == '\v' || r == 0x85 || r == 0xA0 || r == 0x2028 || r == 0x2029
	})
}

// locateValue returns the byte range of n's raw text that holds its value:
// after its properties (&anchor, !tag) and, for quoted scalars, inside the
// quotes; for block scalars, after the header line. The end is exact for
// quoted scalars and the end of input otherwise: plain and block scalars have
// no escapes, so a token of their value appears verbatim at its first
// occurrence after the start.
func (st *walkState) locateValue(n *yaml.Node) (int, int, bool) {
	src := st.src
	p, ok := st.loc.offset(n.Line, n.Column)
	if !ok {
		st.warnAt(n, "cannot locate scalar in the input; not selected")
		return 0, 0, false
	}
	// Skip properties, blanks, line breaks and comments.
	for p < len(src) {
		c := src[p]
		switch {
		case c == '&' || c == '!':
			for p < len(src) && !isBlankOrBreak(src[p]) {
				p++
			}
		case isBlankOrBreak(c):
			p++
		case c == '#':
			for p < len(src) && src[p] != '\n' && src[p] != '\r' {
				p++
			}
		default:
			goto value
		}
	}
value:
	if p >= len(src) {
		return p, p, true
	}
	switch {
	case n.Style&styleDouble != 0 && src[p] == '"':
		p++
		for q := p; q < len(src); q++ {
			if src[q] == '\\' {
				q++
				continue
			}
			if src[q] == '"' {
				return p, q, true
			}
		}
	case n.Style&styleSingle != 0 && src[p] == '\'':
		p++
		for q := p; q < len(src); q++ {
			if src[q] == '\'' {
				if q+1 < len(src) && src[q+1] == '\'' {
					q++
					continue
				}
				return p, q, true
			}
		}
	case n.Style&(styleLiteral|styleFolded) != 0 && (src[p] == '|' || src[p] == '>'):
		for p < len(src) && src[p] != '\n' && src[p] != '\r' {
			p++
		}
		return p, len(src), true
	case n.Style&(styleDouble|styleSingle|styleLiteral|styleFolded) == 0:
		return p, len(src), true
	}
	st.warnAt(n, "cannot locate scalar in the input; not selected")
	return 0, 0, false
}

func isBlankOrBreak(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

// Markers.

var markerKeys = []string{"$rebase", "$imagepolicy"}

// parseMarker reads a setter comment: `# {"$rebase": "ID:name"}` or
// `# {"$imagepolicy": "NS:POLICY[:name|:tag|:digest]"}`.
func parseMarker(comment string) (id, field string, ok bool) {
	c := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(comment), "#"))
	if !strings.HasPrefix(c, "{") {
		return "", "", false
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(c), &m); err != nil {
		return "", "", false
	}
	for _, k := range markerKeys {
		val, found := m[k]
		if !found || val == "" {
			continue
		}
		minColons := 1 // $rebase: ID:field
		if k == "$imagepolicy" {
			minColons = 2 // NS:POLICY:field
		}
		if strings.Count(val, ":") >= minColons {
			i := strings.LastIndexByte(val, ':')
			switch f := val[i+1:]; f {
			case "name", "tag", "digest":
				return fmt.Sprintf("%s %q", k, val[:i]), f, true
			}
		}
		return fmt.Sprintf("%s %q", k, val), "ref", true
	}
	return "", "", false
}

func (st *walkState) markerField(n *yaml.Node, id, field string, host *splitMap, imageKey bool) {
	var part Part
	switch {
	case n.Tag == "!!null" && field == "digest":
		// An empty Flux :digest field is written: after its colon, or in
		// place of its "~".
		p, ok := st.fieldPart(field, n)
		if !ok {
			return
		}
		part = p
	case n.Value == "" && n.Style&(styleDouble|styleSingle) == 0:
		st.warnAt(n, "marker %s field %s is empty; write \"\" to keep a place for it", id, field)
		return
	default:
		start, end, ok := st.locateValue(n)
		if !ok {
			return
		}
		part = Part{Field: field, Span: Span{start, start}, Empty: n.Value == ""}
		if text := n.Value; text != "" {
			at := bytes.Index(st.src[start:end], []byte(text))
			if at < 0 || strings.ContainsAny(text, " \t\n\r") {
				st.warnAt(n, "marker %s field %s: value %q cannot be rewritten in place; not selected", id, field, text)
				return
			}
			part.Span, part.Text = Span{start + at, start + at + len(text)}, text
		}
	}
	var g *markerGroup
	for _, m := range st.markers {
		if m.id == id {
			g = m
		}
	}
	if g == nil {
		g = &markerGroup{id: id}
		st.markers = append(st.markers, g)
	}
	g.fields = append(g.fields, markerField{node: n, path: st.renderPath(), field: field, part: part, imageKey: imageKey, host: host})
}

// finishDoc combines the document's marker groups and returns all of its
// occurrences in input order.
func (st *walkState) finishDoc() []*Occurrence {
	var combined []*Occurrence
	for _, g := range st.markers {
		if o := st.combine(g); o != nil {
			combined = append(combined, o)
		} else {
			st.fallback(g)
		}
	}
	out := append(st.occs, combined...)
	if len(st.markers) > 0 || st.unsorted {
		sort.SliceStable(out, func(i, j int) bool { return out[i].Span.Start < out[j].Span.Start })
	}
	// The slice is reused for the next document: hand out a copy.
	res := make([]*Occurrence, len(out))
	copy(res, out)
	return res
}

// fallback selects, by the other rules, the fields of a marker group that
// cannot be combined: a broken group must not hide an image: key.
func (st *walkState) fallback(g *markerGroup) {
	for _, f := range g.fields {
		if f.host != nil {
			continue // a part of a split reference is never selected alone
		}
		st.pathOver = f.path
		_ = st.plainScalar(f.node, f.imageKey)
		st.pathOver = ""
	}
}

func (st *walkState) combine(g *markerGroup) *Occurrence {
	byField := map[string]*markerField{}
	for i := range g.fields {
		f := &g.fields[i]
		if prev, dup := byField[f.field]; dup {
			st.warnAt(f.node, "marker %s has a second %s field (first at line %d); not selected", g.id, f.field, prev.node.Line)
			return nil
		}
		byField[f.field] = f
	}
	first := &g.fields[0]
	var ref string
	var parts []Part
	if f, ok := byField["ref"]; ok {
		if len(byField) > 1 {
			st.warnAt(f.node, "marker %s marks a whole reference and its parts; not selected", g.id)
			return nil
		}
		ref = f.part.Text
		parts = []Part{f.part}
	} else {
		nameF, ok := byField["name"]
		switch {
		case ok:
			first, ref = nameF, nameF.part.Text
			parts = append(parts, nameF.part)
		case sameHost(g.fields) != nil:
			if first = st.borrowName(sameHost(g.fields)); first == nil {
				return nil
			}
			ref = sameHost(g.fields).name()
			parts = append(parts, first.part)
		default:
			st.warnAt(first.node, "marker %s has no name field; not selected", g.id)
			return nil
		}
		if t, ok := byField["tag"]; ok {
			if t.part.Text != "" {
				ref += ":" + t.part.Text
			}
			parts = append(parts, t.part)
		}
		if d, ok := byField["digest"]; ok {
			if !d.part.Empty {
				ref += "@" + d.part.Text
			}
			parts = append(parts, d.part)
		}
	}
	if _, ok := refs.Parse(ref); !ok {
		st.warnAt(first.node, "marker %s combines to %q, which is not an image reference; not selected", g.id, ref)
		return nil
	}
	line, col := st.loc.position(first.part.Span.Start)
	return &Occurrence{
		File: st.file, Line: line, Column: col, Doc: st.doc, Path: first.path,
		Rule: RuleMarker, Ref: ref, Marker: g.id, Span: first.part.Span, Parts: parts,
	}
}

// borrowName is the name field a Flux :tag or :digest marker in a split map
// takes from the map: never written, never changed.
func (st *walkState) borrowName(sm *splitMap) *markerField {
	name, ok := st.fieldPart("name", sm.vals[sm.nameKey])
	if !ok {
		return nil
	}
	name.Fixed = true
	return &markerField{node: sm.vals[sm.nameKey], path: sm.paths[sm.nameKey], field: "name", part: name}
}

// sameHost returns the split map every field of a group is a part of, or nil.
func sameHost(fs []markerField) *splitMap {
	h := fs[0].host
	for _, f := range fs {
		if f.host != h {
			return nil
		}
	}
	return h
}

// Errors and encoding.

var lineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (st *walkState) syntaxError(err error) error {
	msg := err.Error()
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &SyntaxError{File: st.file, Line: line, Column: st.loc.firstNonBlank(line), Msg: m[2]}
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	// Errors without a line (control characters, bad UTF-8) are found here.
	if off := firstNonPrintable(st.src); off >= 0 {
		line, col := st.loc.position(off)
		return &SyntaxError{File: st.file, Line: line, Column: col, Msg: fmt.Sprintf("%s (byte 0x%02x)", msg, st.src[off])}
	}
	// Otherwise the error is in the document after the last one parsed.
	from := 0
	if st.lastDocLine > 0 {
		if off, ok := st.loc.offset(st.lastDocLine, 1); ok {
			from = off
			if next := st.loc.nextLine(off); next > 0 {
				from = next
			}
		}
	}
	if m := anchorRE.FindStringSubmatch(msg); m != nil {
		if i := bytes.Index(st.src[from:], []byte("*"+m[1])); i >= 0 {
			line, col := st.loc.position(from + i)
			return &SyntaxError{File: st.file, Line: line, Column: col, Msg: msg}
		}
	}
	if st.lastDocLine > 0 {
		for off := from; off >= 0 && off < len(st.src); off = st.loc.nextLine(off) {
			if bytes.HasPrefix(st.src[off:], []byte("---")) {
				line, col := st.loc.position(off)
				return &SyntaxError{File: st.file, Line: line, Column: col, Msg: msg + " (in the document starting here)"}
			}
		}
	}
	return &SyntaxError{File: st.file, Line: 1, Column: 1, Msg: msg}
}

var anchorRE = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)

func checkEncoding(file string, src []byte) error {
	switch {
	case bytes.HasPrefix(src, []byte{0xFE, 0xFF}), bytes.HasPrefix(src, []byte{0xFF, 0xFE}):
		return &SyntaxError{File: file, Line: 1, Column: 1, Msg: "UTF-16 input is not supported; convert it to UTF-8"}
	}
	// yaml.v3 reads a BOM after the first byte as content: a concatenated
	// file's BOM would turn "image:" into "\ufeffimage:" and drop its refs.
	for off := 1; off < len(src); {
		i := bytes.Index(src[off:], []byte("\xef\xbb\xbf"))
		if i < 0 {
			break
		}
		at := off + i
		if src[at-1] == '\n' || src[at-1] == '\r' {
			line, col := newLocator(src).position(at)
			return &SyntaxError{File: file, Line: line, Column: col, Msg: "a byte-order mark inside the stream (concatenated files?); remove it"}
		}
		off = at + 3
	}
	if utf8.Valid(src) {
		return nil
	}
	loc := newLocator(src)
	for off := 0; off < len(src); {
		r, size := utf8.DecodeRune(src[off:])
		if r == utf8.RuneError && size <= 1 {
			line, col := loc.position(off)
			return &SyntaxError{File: file, Line: line, Column: col, Msg: fmt.Sprintf("invalid UTF-8 (byte 0x%02x); is this a binary file?", src[off])}
		}
		off += size
	}
	return nil
}

// firstNonPrintable returns the offset of the first character YAML does not
// allow in a stream, or -1.
func firstNonPrintable(src []byte) int {
	for off := 0; off < len(src); {
		r, size := utf8.DecodeRune(src[off:])
		ok := r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r <= 0x7E) || r == 0x85 ||
			(r >= 0xA0 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
		if !ok || (r == utf8.RuneError && size <= 1) {
			return off
		}
		off += size
	}
	return -1
}

// yaml12Directives works around go.yaml.in/yaml/v3 refusing "%YAML 1.2"
// ("found incompatible YAML document"): the copy it parses says "%YAML 1.1",
// which has the same length, so every offset and position stays true. The
// input itself is never changed: it returns src when there is nothing to fix,
// else a fixed copy.
func yaml12Directives(src []byte) []byte {
	const d = "%YAML 1.2"
	out, copied := src, false
	for off := 0; ; {
		i := bytes.Index(out[off:], []byte(d))
		if i < 0 {
			return out
		}
		at := off + i
		if at == 0 || out[at-1] == '\n' || out[at-1] == '\r' || (at == 3 && bytes.HasPrefix(out, []byte("\xef\xbb\xbf"))) {
			if !copied {
				out, copied = append([]byte(nil), src...), true
			}
			out[at+len(d)-1] = '1'
		}
		off = at + len(d)
	}
}
