package yamlwalk

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/rebasekit/rebasekit/pkg/refs"
	yaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// Scalars: the key, pinned, prefix and embedded rules, and where each
// scalar's value lies in the input.

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
		case prefixes && r.Tag == "" && !r.Pinned():
			// Under a prefix a bare repository is never selected, under an
			// image: key neither: a Flux ImageRepository's spec.image
			// names a repository to scan and must stay without a tag.
			st.bare(n, r.Repository, v)
			return nil
		case imageKey:
		case r.Pinned():
			rule = RulePinned
		case prefixes && r.Tag != "" && !hostPort(r):
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

// bare reports the bare repository v (repository repo) at n to Walker.Bare
// when it lies under a prefix.
func (st *walkState) bare(n *yaml.Node, repo, v string) {
	if st.w.Bare != nil && st.prefixes.holds(repo) {
		st.w.Bare(st.file, n.Line, n.Column, v)
	}
}

// hostPort reports whether r, not pinned, reads as a host and port rather
// than an image: a name of one component (no "/", so no registry) with an
// all-digit tag, "frontend:80", "kafka:9092", "10.0.0.1:8080", "5000:5000".
// Outside an image: key such a string is an address (a Service, a port
// mapping), though a registry would read it as a Docker Hub official image;
// under an image: key it stays an image, as Kubernetes reads it.
func hostPort(r refs.Ref) bool {
	if r.Digest != "" || r.Tag == "" || strings.Contains(r.Repository, "/") {
		return false
	}
	for i := 0; i < len(r.Tag); i++ {
		if r.Tag[i] < '0' || r.Tag[i] > '9' {
			return false
		}
	}
	return true
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
			// A token is under a prefix only as a registry reads it: an
			// official image named by a prefix is read in whole strings
			// only, "chown alice:staff" is a user and group.
			selected[i] = prefixes && st.prefixes.holdsNamespace(r.Repository) && (r.Tag != "" && !hostPort(r) || r.Pinned()) || !prefixes && r.Pinned()
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
