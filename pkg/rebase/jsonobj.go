package rebase

import (
	"bytes"
	"encoding/json"
	"fmt"
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
