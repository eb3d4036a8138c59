package yamlwalk

import (
	"bytes"
	"path/filepath"
	"strings"

	"github.com/rebasekit/rebasekit/pkg/refs"
	yaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// Split references: an image written in parts.
//
// A Helm image map is a mapping with a string "repository" and a "tag" or a
// "digest" (or both), optionally a string "registry":
// [REGISTRY/]REPOSITORY[:TAG][@DIGEST], where TAG may be Renovate's
// "T@sha256:D". The digest field may be called "sha" instead, as in
// kube-prometheus-stack's and grafana's charts, whose templates render
// REPOSITORY:TAG@sha256:{{ .sha }}: it holds the digest's hex, or the whole
// digest when written with "sha256:", and is written back in the form it
// has (hex only when empty, as those templates want). A kustomize image is an entry of the top-level "images:"
// sequence of a Kustomization: NEWNAME-or-NAME[:NEWTAG][@DIGEST]. Empty or
// null fields count as absent: a map with a digest and a sha field reads the
// one that is set. With both set, or both empty (which one would take the
// digest is unknown), the map is not selected and a warning says why. The fields of a split reference are never
// selected on their own; markers on them take precedence.

// The keys of each form and the Part field each one fills.
var (
	helmKeys      = map[string]string{"registry": "registry", "repository": "repository", "tag": "tag", "digest": "digest", "sha": "digest"}
	kustomizeKeys = map[string]string{"name": "name", "newName": "name", "newTag": "tag", "digest": "digest"}
)

// splitMap is a mapping that holds a split reference.
type splitMap struct {
	node      *yaml.Node
	kustomize bool
	keys      map[string]string     // helmKeys or kustomizeKeys
	vals      map[string]*yaml.Node // by key as written
	keyNodes  map[string]*yaml.Node // by key as written
	paths     map[string]string     // path of each part's value
	nameKey   string                // repository, newName or name
}

// isKustomization reports whether the document root n is a Kustomization,
// by its kind or the name of its file.
func isKustomization(file string, n *yaml.Node) bool {
	switch filepath.Base(file) {
	case "kustomization.yaml", "kustomization.yml", "Kustomization":
		return true
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "kind" && n.Content[i+1].Kind == yaml.ScalarNode && n.Content[i+1].Value == "Kustomization" {
			return true
		}
	}
	return false
}

// splitCandidate returns the split map that mapping n is, or nil.
func (st *walkState) splitCandidate(n *yaml.Node) *splitMap {
	sm := &splitMap{node: n, keys: helmKeys, vals: map[string]*yaml.Node{}, keyNodes: map[string]*yaml.Node{}, paths: map[string]string{}}
	if st.kustomize && len(st.path) == 2 && st.path[0].index < 0 && st.path[0].key == "images" && st.path[1].index >= 0 {
		sm.kustomize, sm.keys = true, kustomizeKeys
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if _, part := sm.keys[k.Value]; !part || k.Kind != yaml.ScalarNode {
			continue
		}
		if _, dup := sm.vals[k.Value]; dup || v.Kind != yaml.ScalarNode {
			return nil // a field twice, or not a scalar: not a reference in parts
		}
		sm.vals[k.Value], sm.keyNodes[k.Value] = v, k
	}
	if sm.kustomize {
		sm.nameKey = "name"
		if v := sm.vals["newName"]; v != nil && v.Tag == "!!str" && v.Value != "" {
			sm.nameKey = "newName"
		}
	} else {
		sm.nameKey = "repository"
		if sm.vals["tag"] == nil && sm.vals["digest"] == nil && sm.vals["sha"] == nil {
			return nil
		}
	}
	name := sm.vals[sm.nameKey]
	if name == nil || name.Tag != "!!str" {
		return nil
	}
	// A repository that carries its own tag or digest is a whole reference.
	if r, ok := refs.Parse(name.Value); ok && (r.Tag != "" || r.Digest != "") {
		return nil
	}
	return sm
}

// splitMapping walks a split map: its parts are not walked on their own
// (markers on them are read), its other fields are. Without markers on its
// parts, the reference is selected by the split rule.
func (st *walkState) splitMapping(n *yaml.Node, sm *splitMap) error {
	marked := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		st.path = append(st.path, pathElem{key: k.Value, index: -1})
		if sm.vals[k.Value] == v {
			sm.paths[k.Value] = st.renderPath()
			if c := valueComment(k, v); c != "" && strings.Contains(c, `"$`) {
				if id, field, ok := parseMarker(c); ok {
					marked = true
					st.markerField(v, id, field, sm, false)
				}
			}
		} else if err := st.mappingValue(k, v); err != nil {
			return err
		}
		st.path = st.path[:len(st.path)-1]
	}
	if !marked {
		st.emitSplit(sm)
	}
	return nil
}

// valueComment is the line comment of a mapping value: a value with nothing
// written ("digest:") has its comment on the key.
func valueComment(k, v *yaml.Node) string {
	if v.LineComment == "" && v.Kind == yaml.ScalarNode && v.Tag == "!!null" && v.Value == "" {
		return k.LineComment
	}
	return v.LineComment
}

// text returns the value of part key as it counts in a reference: "" when
// absent, empty or null, or not a string (or for a tag, a number).
func (sm *splitMap) text(key string) string {
	v := sm.vals[key]
	if v == nil {
		return ""
	}
	switch v.Tag {
	case "!!str":
		return v.Value
	case "!!int", "!!float":
		if sm.keys[key] == "tag" {
			return v.Value // tag: 1.20 is the tag "1.20" as written
		}
	}
	return ""
}

// name returns the repository the map names: [REGISTRY/]REPOSITORY, or
// NEWNAME-or-NAME.
func (sm *splitMap) name() string {
	n := sm.text(sm.nameKey)
	if reg := sm.text("registry"); reg != "" && !sm.kustomize {
		n = reg + "/" + n
	}
	return n
}

// digestKey returns the key of sm's digest field: "digest", or the "sha" of
// a Helm map that has no "digest" or whose digest is empty while its sha is
// set (empty fields count as absent: the chart reads the one that is set).
func (sm *splitMap) digestKey() string {
	if sm.kustomize || sm.vals["sha"] == nil {
		return "digest"
	}
	if sm.vals["digest"] == nil || sm.text("digest") == "" && sm.text("sha") != "" {
		return "sha"
	}
	return "digest"
}

// bothDigestsEmpty reports whether sm is a Helm map with a digest and a sha
// field, both empty: which one its chart reads, and so which one a digest
// goes into, is unknown.
func (sm *splitMap) bothDigestsEmpty() bool {
	return !sm.kustomize && sm.vals["digest"] != nil && sm.vals["sha"] != nil && sm.text("digest") == "" && sm.text("sha") == ""
}

// compose returns the reference, or false (warning why when it looks meant).
func (st *walkState) compose(sm *splitMap) (string, bool) {
	ref := sm.name()
	tagKey, digestKey := "tag", sm.digestKey()
	if sm.kustomize {
		tagKey = "newTag"
	}
	if !sm.kustomize && sm.text("digest") != "" && sm.text("sha") != "" {
		st.warnAt(sm.vals["sha"], "image map %q sets both a digest and a sha field; not selected: keep the one its chart reads", ref)
		return "", false
	}
	tag, tagDigest, _ := strings.Cut(sm.text(tagKey), "@")
	digest := sm.text(digestKey)
	if digest != "" {
		written := digest
		if digestKey == "sha" && !strings.HasPrefix(digest, "sha256:") {
			digest = "sha256:" + digest
		}
		if !refs.Valid("x@" + digest) {
			// "sha" is a common key: warn only in what reads as an image map.
			if digestKey != "sha" || refs.Valid(ref) {
				st.warnAt(sm.vals[digestKey], "%s %q of %q %s; not selected", digestKey, written, ref, badDigest(digest, digestKey == "sha"))
			}
			return "", false
		}
	}
	if tagDigest != "" && digest != "" && tagDigest != digest {
		st.warnAt(sm.vals[tagKey], "tag %q and digest %q of %q name different images; not selected", sm.text(tagKey), digest, ref)
		return "", false
	}
	if digest == "" {
		digest = tagDigest
	}
	if tag != "" {
		ref += ":" + tag
	}
	if digest != "" {
		ref += "@" + digest
	}
	return ref, true
}

// badDigest says why d ("sha256:" and the field's hex, for a sha field) is
// not a digest. Digests are lowercase hex, and registries compare them as
// text: an uppercase one names no manifest.
func badDigest(d string, sha bool) string {
	hex, ok := strings.CutPrefix(d, "sha256:")
	if ok && len(hex) == 64 && strings.Trim(strings.ToLower(hex), "0123456789abcdef") == "" {
		return "is not lowercase hex: write it in lowercase, as registries name digests"
	}
	if sha {
		return "is not 64 hex digits (with or without sha256:)"
	}
	return "is not sha256: and 64 hex digits"
}

// emitSplit selects sm by the split rule when its reference is pinned or,
// with prefixes, has a tag and lies under one.
func (st *walkState) emitSplit(sm *splitMap) {
	ref, ok := st.compose(sm)
	if !ok {
		return
	}
	r, ok := refs.Parse(ref)
	if !ok {
		return
	}
	if len(st.w.Prefixes) > 0 {
		if !st.prefixes.holds(r.Repository) {
			return
		}
		if r.Tag == "" && r.Digest == "" {
			st.bare(sm.vals[sm.nameKey], r.Repository, ref)
			return
		}
	} else if !r.Pinned() {
		return
	}
	if sm.bothDigestsEmpty() {
		st.warnAt(sm.vals["sha"], "image map %q has a digest and a sha field, both empty; not selected: which one its chart reads is unknown, delete the other", sm.name())
		return
	}
	parts, ok := st.splitParts(sm)
	if !ok {
		return
	}
	var name Part
	for _, p := range parts {
		if p.Field == "name" || p.Field == "repository" {
			name = p
		}
	}
	line, col := st.loc.position(name.Span.Start)
	st.occs = append(st.occs, &Occurrence{
		File: st.file, Line: line, Column: col, Doc: st.doc, Path: sm.paths[sm.nameKey],
		Rule: RuleSplit, Ref: ref, Span: name.Span, Parts: parts,
	})
	st.unsorted = true
}

// splitParts locates every part of sm, in input order, with a place for a
// digest in a kustomize entry that has none.
func (st *walkState) splitParts(sm *splitMap) ([]Part, bool) {
	var parts []Part
	for i := 0; i+1 < len(sm.node.Content); i += 2 {
		k, v := sm.node.Content[i], sm.node.Content[i+1]
		if sm.vals[k.Value] != v || k.Value == "name" && sm.nameKey == "newName" {
			continue
		}
		field := sm.keys[k.Value]
		if !sm.kustomize && (field == "registry" && sm.text("registry") == "" || field == "digest" && k.Value != sm.digestKey()) {
			continue // an empty registry, the digest field not in use
		}
		p, ok := st.fieldPart(field, v)
		if !ok {
			return nil, false
		}
		p.Fixed = field == "name" || field == "repository" || field == "registry"
		p.Hex = k.Value == "sha" && !strings.HasPrefix(p.Text, "sha256:")
		parts = append(parts, p)
	}
	if sm.kustomize && sm.vals["digest"] == nil {
		p, ok := st.digestSlot(sm)
		if !ok {
			return nil, false
		}
		parts = append(parts, p)
	}
	return parts, true
}

// fieldPart locates the value v of a field. A field with nothing written
// gets an empty span just after its colon and Lead " "; "~" or "null" is
// replaced whole; "" keeps its quotes.
func (st *walkState) fieldPart(field string, v *yaml.Node) (Part, bool) {
	p := Part{Field: field}
	if v.Tag == "!!null" && v.Value == "" {
		off, ok := st.loc.offset(v.Line, v.Column)
		if !ok || off == 0 || st.src[off-1] != ':' {
			st.warnAt(v, "cannot locate scalar in the input; not selected")
			return p, false
		}
		p.Span, p.Empty, p.Lead = Span{off, off}, true, " "
		return p, true
	}
	start, end, ok := st.locateValue(v)
	if !ok {
		return p, false
	}
	p.Empty = v.Tag == "!!null" || v.Value == ""
	if v.Value == "" {
		p.Span = Span{start, start}
		return p, true
	}
	at := bytes.Index(st.src[start:end], []byte(v.Value))
	if at < 0 || strings.ContainsAny(v.Value, " \t\n\r") {
		st.warnAt(v, "field %s: value %q cannot be rewritten in place; not selected", field, v.Value)
		return p, false
	}
	p.Span, p.Text = Span{start + at, start + at + len(v.Value)}, v.Value
	return p, true
}

// digestSlot is where a kustomize entry without a digest field takes one: a
// new line "digest: " after the line of its last field (after that line's
// comment), at the entry's key indentation and with the file's line ending;
// in a flow-style entry ", digest: " right after its last value.
func (st *walkState) digestSlot(sm *splitMap) (Part, bool) {
	c := sm.node.Content
	last := c[len(c)-1]
	end, ok := st.scalarEnd(last)
	if !ok {
		st.warnAt(sm.vals[sm.nameKey], "kustomize image %q has no digest field and no place for one after its last field; not selected", sm.name())
		return Part{}, false
	}
	p := Part{Field: "digest", Empty: true}
	if sm.node.Style&yaml.FlowStyle != 0 {
		p.Span, p.Lead = Span{end, end}, ", digest: "
		return p, true
	}
	for end < len(st.src) && st.src[end] != '\n' && st.src[end] != '\r' {
		end++
	}
	p.Span = Span{end, end}
	p.Lead = st.lineEnding(end) + strings.Repeat(" ", c[0].Column-1) + "digest: "
	return p, true
}

// scalarEnd returns the offset just after the text of a one-line scalar.
func (st *walkState) scalarEnd(n *yaml.Node) (int, bool) {
	if n.Kind != yaml.ScalarNode || n.Style&(styleLiteral|styleFolded) != 0 || n.Value == "" && n.Style&(styleDouble|styleSingle) == 0 {
		return 0, false
	}
	start, end, ok := st.locateValue(n)
	if !ok {
		return 0, false
	}
	if n.Style&(styleDouble|styleSingle) != 0 {
		return end + 1, bytes.IndexAny(st.src[start:end], "\r\n") < 0
	}
	if !bytes.HasPrefix(st.src[start:], []byte(n.Value)) || strings.ContainsAny(n.Value, "\r\n") {
		return 0, false
	}
	return start + len(n.Value), true
}

// lineEnding returns the line break at off, else the file's first one, else "\n".
func (st *walkState) lineEnding(off int) string {
	src := st.src
	if off >= len(src) {
		i := bytes.IndexAny(src, "\r\n")
		if i < 0 {
			return "\n"
		}
		off = i
	}
	if src[off] == '\r' {
		if off+1 < len(src) && src[off+1] == '\n' {
			return "\r\n"
		}
		return "\r"
	}
	return "\n"
}

// besideParts reports whether mapping n has a "tag", "digest" or "sha" key.
func besideParts(n *yaml.Node) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i].Value; k == "tag" || k == "digest" || k == "sha" {
			return true
		}
	}
	return false
}

// imageInParts reports (and warns) when k: v is an "image:" key naming a
// repository with no tag or digest of its own beside a tag or digest field
// (ingress-nginx's `image: ingress-nginx/controller` + `tag:` + `digest:`): a
// reference in parts under another name than "repository", which the key
// rule would read as REPOSITORY:latest, the wrong image.
func (st *walkState) imageInParts(k, v *yaml.Node) bool {
	if k.Value != "image" || v.Kind != yaml.ScalarNode || v.Tag != "!!str" || strings.Contains(valueComment(k, v), `"$`) {
		return false
	}
	r, ok := refs.Parse(v.Value)
	if !ok || r.Tag != "" || r.Digest != "" {
		return false
	}
	st.warnAt(v, "image %q stands beside a tag or digest field, a reference in parts whose repository key is not \"repository\", so not selected: the chart may compose it with values from elsewhere (a registry); to have it rebased, mark fields that spell the whole reference with {\"$rebase\": \"ID:name\"} and \"ID:tag\" comments", v.Value)
	return true
}
