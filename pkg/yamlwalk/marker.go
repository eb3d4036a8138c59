package yamlwalk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/rebasekit/rebasekit/pkg/refs"
	yaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// Markers: setter comments, combined per document.

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
