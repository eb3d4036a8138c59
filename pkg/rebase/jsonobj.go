package rebase

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"unicode"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// object is a JSON object kept as written: its members in their original
// order, each value as raw bytes. The engine edits manifests and configs
// through it so that every field it does not have to change (media types,
// annotations, variant, author, created, unknown extensions) survives byte
// for byte, and the key order of the original survives too.
type object struct {
	members []member
}

type member struct {
	key   string
	value json.RawMessage
}

// parseObject reads b, which must be a single JSON object.
func parseObject(b []byte) (*object, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("not a JSON object")
	}
	o := &object{}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("unexpected JSON token %v", tok)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("member %q: %w", key, err)
		}
		if seen[key] {
			// Duplicate keys are ambiguous: readers disagree on which wins.
			return nil, fmt.Errorf("duplicate JSON key %q", key)
		}
		seen[key] = true
		o.members = append(o.members, member{key: key, value: v})
	}
	if _, err := dec.Token(); err != nil { // '}'
		return nil, err
	}
	if _, err := dec.Token(); err == nil {
		return nil, fmt.Errorf("trailing data after JSON object")
	}
	return o, nil
}

// raw returns the raw value of key, or nil.
func (o *object) raw(key string) json.RawMessage {
	for _, m := range o.members {
		if m.key == key {
			return m.value
		}
	}
	return nil
}

// has reports whether key is present.
func (o *object) has(key string) bool { return o.raw(key) != nil }

// get decodes the value of key into v; a missing key leaves v alone.
func (o *object) get(key string, v any) error {
	r := o.raw(key)
	if r == nil {
		return nil
	}
	if err := json.Unmarshal(r, v); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

// setRaw replaces the value of key in place, or appends key at the end.
func (o *object) setRaw(key string, v json.RawMessage) {
	for i := range o.members {
		if o.members[i].key == key {
			o.members[i].value = v
			return
		}
	}
	o.members = append(o.members, member{key: key, value: v})
}

// del removes key, if present.
func (o *object) del(key string) {
	o.members = slices.DeleteFunc(o.members, func(m member) bool { return m.key == key })
}

// set marshals v as the value of key.
func (o *object) set(key string, v any) error {
	b, err := marshal(v)
	if err != nil {
		return err
	}
	o.setRaw(key, b)
	return nil
}

// child parses the value of key as an object; a missing key gives an empty one.
func (o *object) child(key string) (*object, error) {
	r := o.raw(key)
	if r == nil || string(r) == "null" {
		return &object{}, nil
	}
	c, err := parseObject(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return c, nil
}

// bytes serialises the object compactly, members in order.
func (o *object) bytes() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, m := range o.members {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, err := marshal(m.key)
		if err != nil {
			return nil, err
		}
		buf.Write(k)
		buf.WriteByte(':')
		if err := json.Compact(&buf, m.value); err != nil {
			return nil, fmt.Errorf("%s: %w", m.key, err)
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// rawArray splits a JSON array into its raw elements.
func rawArray(r json.RawMessage) ([]json.RawMessage, error) {
	if r == nil || string(r) == "null" {
		return nil, nil
	}
	var a []json.RawMessage
	if err := json.Unmarshal(r, &a); err != nil {
		return nil, err
	}
	return a, nil
}

// marshal is json.Marshal without HTML escaping, so strings like "<none>"
// stay readable and identical to what most image builders write.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// The documents the engine reads are read twice: by go-containerregistry's
// typed decoder (encoding/json, which matches a key to a struct field
// case-insensitively, the last of several winning) and by object, the byte
// editor, which matches keys exactly. A manifest with "layers" and "Layers"
// is one document to the first and another to the second: edited in the
// decoy, pushed broken; one with only "Layers" has no layers for the
// editor. So every manifest, index and config is checked first, at every
// level the typed decoder reads (struct fields, by the types the engine
// decodes into): no two keys that differ only in case, and every key that
// matches a field spelled as the field is. Exact duplicates are refused at
// every level.

// Document types, for checkKeys.
var (
	manifestType = reflect.TypeFor[v1.Manifest]()
	indexType    = reflect.TypeFor[v1.IndexManifest]()
	configType   = reflect.TypeFor[v1.ConfigFile]()
)

// checkKeys reads b as encoding/json reads it into a value of type t and
// fails, naming what (the manifest, the config) and where, on keys that
// the typed decoder and the byte editor would read differently.
func checkKeys(b []byte, t reflect.Type, what string) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return walkKeys(dec, t, what, "")
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

func walkKeys(dec *json.Decoder, t reflect.Type, what, path string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && reflect.PointerTo(t).Implements(unmarshalerType) {
		t = nil // decodes itself (a digest, a time): only its duplicates are checked
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	where := what
	if path != "" {
		where = what + "'s " + path
	}
	switch d {
	case '[':
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; dec.More(); i++ {
			if err := walkKeys(dec, elem, what, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case '{':
		var fields map[string]structField
		var elem reflect.Type
		switch {
		case t == nil:
		case t.Kind() == reflect.Struct:
			fields = fieldsOf(t)
		case t.Kind() == reflect.Map:
			elem = t.Elem()
		}
		seen := map[string]bool{}
		folded := map[string]string{} // a field's folded name -> the key that matched it
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := tok.(string)
			if seen[key] {
				return fmt.Errorf("%s has the JSON key %q twice: JSON readers disagree on which one counts", where, key)
			}
			seen[key] = true
			vt := elem
			if fields != nil {
				f, known := fields[foldKey(key)]
				if known {
					if other, ok := folded[foldKey(key)]; ok {
						return fmt.Errorf("%s has the JSON keys %q and %q, which differ only in case: JSON readers disagree on which one counts", where, other, key)
					}
					folded[foldKey(key)] = key
					if key != f.name {
						return fmt.Errorf("%s has the JSON key %q where the field is %q: JSON readers disagree on whether it counts", where, key, f.name)
					}
				}
				vt = f.typ // nil for a key no field matches: only its duplicates are checked
			}
			p := key
			if path != "" {
				p = path + "." + key
			}
			if err := walkKeys(dec, vt, what, p); err != nil {
				return err
			}
		}
	}
	_, err = dec.Token() // the closing delimiter
	return err
}

type structField struct {
	name string
	typ  reflect.Type
}

var fieldCache sync.Map // reflect.Type -> map[string]structField

// fieldsOf lists t's fields by folded JSON name, as encoding/json names
// them (the tag's name, else the field's; embedded structs flattened).
func fieldsOf(t reflect.Type) map[string]structField {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]structField)
	}
	m := map[string]structField{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() && !f.Anonymous {
			continue
		}
		n, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && n == "" && f.Type.Kind() == reflect.Struct {
			for k, v := range fieldsOf(f.Type) {
				m[k] = v
			}
			continue
		}
		if n == "" {
			n = f.Name
		}
		m[foldKey(n)] = structField{name: n, typ: f.Type}
	}
	fieldCache.Store(t, m)
	return m
}

// foldKey folds s as encoding/json does to match keys to fields: two keys
// fold alike exactly when it would take either for the other.
func foldKey(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(unicode.ToUpper(unicode.ToLower(r)))
	}
	return b.String()
}
