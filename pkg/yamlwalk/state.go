package yamlwalk

import (
	"strconv"
	"strings"

	yaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// The walk: one state per file, a node at a time, the path to each node.

type pathElem struct {
	key   string
	index int // -1 for a key
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
	imageRepo   bool   // the document is a Flux ImageRepository
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
	imageKey := k.Kind == yaml.ScalarNode && k.Value == "image" && !st.repositoryField()
	if v.Kind == yaml.ScalarNode {
		return st.scalar(v, imageKey, valueComment(k, v))
	}
	return st.node(v, imageKey)
}

// repositoryField reports whether the current path is an image: key that
// names a repository by its schema, not an image: a Flux ImageRepository's
// spec.image, which Flux refuses with a tag or digest (".spec.image value
// should not contain a tag"). The key rule does not apply to it.
func (st *walkState) repositoryField() bool {
	return st.imageRepo && len(st.path) == 2 && st.path[0].index < 0 && st.path[0].key == "spec" && st.path[1].index < 0 && st.path[1].key == "image"
}

// isImageRepository reports whether the document root n is a Flux
// ImageRepository (kind ImageRepository, apiVersion image.toolkit.fluxcd.io/*).
func isImageRepository(n *yaml.Node) bool {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return false
	}
	kind, api := false, false
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind != yaml.ScalarNode {
			continue
		}
		switch k.Value {
		case "kind":
			kind = v.Value == "ImageRepository"
		case "apiVersion":
			api = strings.HasPrefix(v.Value, "image.toolkit.fluxcd.io/")
		}
	}
	return kind && api
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
