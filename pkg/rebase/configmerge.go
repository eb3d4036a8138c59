package rebase

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// The config follows the base. A rebuild of the image on the new base would
// start from the new base's config and apply the image's own instructions
// (USER, ENV, LABEL, ENTRYPOINT...) on top; a rebase that kept the image's
// config as it was would keep the old base's values wherever the image
// inherited them: a base that moved to a non-root user would still run as
// root. So the config object of the image's config ("config": User, Env,
// ...) is merged three ways, field by field, from the old base's (what the
// image inherited), the image's, and the new base's:
//
//   - a value the image has as the old base had it was inherited: it takes
//     the new base's value, which may add or remove it;
//   - a value the image set itself (other than the old base's) is kept;
//   - when the new base changed it too, the image's is kept and a warning
//     says so: a rebuild might have come out otherwise (ENV PATH=/app:$PATH).
//
// Env goes by variable name, Labels, ExposedPorts and Volumes by key; User,
// WorkingDir, StopSignal, Shell and Healthcheck as whole values. Entrypoint
// and Cmd go together, as in a Docker build (and ko's): an image that set
// its own Entrypoint has its own Cmd too, the one it set or none (setting
// ENTRYPOINT resets the base's CMD), so both are kept; an image that did not
// takes the new base's Entrypoint, and its Cmd follows the rule above.
// Unset, null, "" and empty lists or objects are the same value. Every other
// member of the config object (OnBuild, ArgsEscaped, unknown ones) is kept.

// ConfigChange is a field of an image's config that the rebase changed,
// because the image had it from the old base and the new base has another
// value.
type ConfigChange struct {
	// Field is the member of the config's "config" object: User, WorkingDir,
	// Env, Labels, ExposedPorts, Volumes, StopSignal, Shell, Healthcheck,
	// Entrypoint or Cmd.
	Field string `json:"field"`
	// Key is the variable (Env), label, port or volume changed.
	Key string `json:"key,omitempty"`
	// Old and New are the JSON values before and after (for Env, the
	// variable's value as a string); absent for a value added or removed.
	Old json.RawMessage `json:"old,omitempty"`
	New json.RawMessage `json:"new,omitempty"`
}

// String is the change as -v shows it: `Env PATH "/bin" -> "/usr/bin:/bin"`.
func (c ConfigChange) String() string {
	return fmt.Sprintf("%s %s -> %s", c.name(), shown(c.Old), shown(c.New))
}

func (c ConfigChange) name() string {
	if c.Key == "" {
		return c.Field
	}
	return c.Field + " " + c.Key
}

func shown(v json.RawMessage) string {
	if v == nil {
		return "(unset)"
	}
	var buf bytes.Buffer
	if json.Compact(&buf, v) != nil {
		return string(v)
	}
	return buf.String()
}

// merged is what mergeConfig did.
type merged struct {
	changes  []ConfigChange
	warnings []string // without the platform
}

// The whole-value fields, in the order changes are listed.
var scalarFields = []string{"User", "WorkingDir", "StopSignal", "Shell", "Healthcheck"}

// The keyed fields: JSON objects merged key by key.
var keyedFields = []string{"Labels", "ExposedPorts", "Volumes"}

// mergeConfig merges the "config" object of the image config cfg with the
// old and new bases' (oldCfg, newCfg: their whole configs), in place.
func mergeConfig(cfg, oldCfg, newCfg *object) (*merged, error) {
	img, err := cfg.child("config")
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	oldC, err := oldCfg.child("config")
	if err != nil {
		return nil, fmt.Errorf("old base config: %w", err)
	}
	newC, err := newCfg.child("config")
	if err != nil {
		return nil, fmt.Errorf("new base config: %w", err)
	}
	m := &merged{}
	for _, f := range scalarFields {
		m.scalar(img, f, oldC.raw(f), newC.raw(f))
	}
	if err := m.env(img, oldC.raw("Env"), newC.raw("Env")); err != nil {
		return nil, err
	}
	for _, f := range keyedFields {
		if err := m.keyed(img, f, oldC.raw(f), newC.raw(f)); err != nil {
			return nil, err
		}
	}
	if oe, ne := oldC.raw("Entrypoint"), newC.raw("Entrypoint"); sameValue(img.raw("Entrypoint"), oe) {
		m.scalar(img, "Entrypoint", oe, ne)
		m.scalar(img, "Cmd", oldC.raw("Cmd"), newC.raw("Cmd"))
	} else {
		// The image's own Entrypoint, and with it its own Cmd.
		m.conflict("Entrypoint", "", img.raw("Entrypoint"), oe, ne)
	}
	if len(m.changes) > 0 {
		b, err := img.bytes()
		if err != nil {
			return nil, err
		}
		cfg.setRaw("config", b)
	}
	return m, nil
}

// scalar merges a whole-value field.
func (m *merged) scalar(img *object, field string, o, n json.RawMessage) {
	i := img.raw(field)
	if !sameValue(i, o) {
		m.conflict(field, "", i, o, n)
		return
	}
	if sameValue(i, n) {
		return
	}
	m.changes = append(m.changes, ConfigChange{Field: field, Old: present(i), New: present(n)})
	if present(n) == nil {
		img.remove(field)
	} else {
		img.setRaw(field, n)
	}
}

// conflict warns when the image set its own value i and the new base
// changed the one the image did not take (o to n) to yet another.
func (m *merged) conflict(field, key string, i, o, n json.RawMessage) {
	if sameValue(o, n) || sameValue(i, n) {
		return
	}
	c := ConfigChange{Field: field, Key: key}
	m.warnings = append(m.warnings, fmt.Sprintf("config %s: kept the image's %s, but the new base changed it too (%s -> %s): rebuild the image if it should follow",
		c.name(), shown(present(i)), shown(present(o)), shown(present(n))))
}

// env merges the Env list by variable name. The image's order is kept; a
// variable the new base adds goes after the image's last one the old base
// had too, as in a rebuild, where the base's variables come first and an
// ENV of one of them changes it in place.
func (m *merged) env(img *object, oldRaw, newRaw json.RawMessage) error {
	iRaw := img.raw("Env")
	var lists [3][]string
	for j, r := range []json.RawMessage{iRaw, oldRaw, newRaw} {
		if r == nil {
			continue
		}
		if err := json.Unmarshal(r, &lists[j]); err != nil {
			return fmt.Errorf("%s config Env: %w", [...]string{"image", "old base", "new base"}[j], err)
		}
	}
	var vars [3]map[string]string
	for j, l := range lists {
		vars[j] = map[string]string{}
		for _, e := range l {
			k, _, _ := strings.Cut(e, "=")
			if _, dup := vars[j][k]; dup {
				m.warnings = append(m.warnings, fmt.Sprintf("config Env: kept the image's as it is: the %s config lists %s twice", [...]string{"image", "old base", "new base"}[j], k))
				return nil
			}
			vars[j][k] = e
		}
	}
	iv, ov, nv := vars[0], vars[1], vars[2]
	val := func(vs map[string]string, k string) json.RawMessage {
		e, ok := vs[k]
		if !ok {
			return nil
		}
		_, v, _ := strings.Cut(e, "=")
		b, _ := marshal(v)
		return b
	}
	var out []string
	last := -1 // where the image's last variable of the old base's is in out
	for _, e := range lists[0] {
		k, _, _ := strings.Cut(e, "=")
		o, inherited := ov[k]
		switch {
		case inherited && o == e:
			n, ok := nv[k]
			if !ok {
				m.changes = append(m.changes, ConfigChange{Field: "Env", Key: k, Old: val(iv, k)})
				continue
			}
			if n != e {
				m.changes = append(m.changes, ConfigChange{Field: "Env", Key: k, Old: val(iv, k), New: val(nv, k)})
			}
			out = append(out, n)
			last = len(out) - 1
		default:
			m.conflict("Env", k, val(iv, k), val(ov, k), val(nv, k))
			out = append(out, e)
			if inherited { // the base's variable, the image's value
				last = len(out) - 1
			}
		}
	}
	var added []string
	for _, n := range lists[2] {
		k, _, _ := strings.Cut(n, "=")
		if _, has := iv[k]; has {
			continue
		}
		if _, had := ov[k]; had {
			// The image removed what the old base had: its own choice.
			m.conflict("Env", k, nil, val(ov, k), val(nv, k))
			continue
		}
		m.changes = append(m.changes, ConfigChange{Field: "Env", Key: k, New: val(nv, k)})
		added = append(added, n)
	}
	if slices.Equal(out, lists[0]) && len(added) == 0 {
		return nil
	}
	out = slices.Insert(out, last+1, added...)
	return img.set("Env", out)
}

// keyed merges a JSON object field key by key, keeping the image's key
// order; keys the new base adds go last, in its order.
func (m *merged) keyed(img *object, field string, oldRaw, newRaw json.RawMessage) error {
	iRaw := img.raw(field)
	var objs [3]*object
	for j, r := range []json.RawMessage{iRaw, oldRaw, newRaw} {
		objs[j] = &object{}
		if present(r) == nil {
			continue
		}
		o, err := parseObject(r)
		if err != nil {
			return fmt.Errorf("%s config %s: %w", [...]string{"image", "old base", "new base"}[j], field, err)
		}
		objs[j] = o
	}
	io, oo, no := objs[0], objs[1], objs[2]
	out := &object{}
	changed := false
	for _, mb := range io.members {
		o := oo.raw(mb.key)
		if o == nil || !sameValue(mb.value, o) {
			m.conflict(field, mb.key, mb.value, o, no.raw(mb.key))
			out.members = append(out.members, mb)
			continue
		}
		n := no.raw(mb.key)
		switch {
		case n == nil:
			m.changes = append(m.changes, ConfigChange{Field: field, Key: mb.key, Old: mb.value})
			changed = true
		case !sameValue(n, mb.value):
			m.changes = append(m.changes, ConfigChange{Field: field, Key: mb.key, Old: mb.value, New: n})
			out.setRaw(mb.key, n)
			changed = true
		default:
			out.members = append(out.members, mb)
		}
	}
	for _, mb := range no.members {
		if io.has(mb.key) {
			continue
		}
		if o := oo.raw(mb.key); o != nil {
			m.conflict(field, mb.key, nil, o, mb.value)
			continue
		}
		m.changes = append(m.changes, ConfigChange{Field: field, Key: mb.key, New: mb.value})
		out.members = append(out.members, mb)
		changed = true
	}
	if !changed {
		return nil
	}
	b, err := out.bytes()
	if err != nil {
		return err
	}
	img.setRaw(field, b)
	return nil
}

// remove deletes key, if present.
func (o *object) remove(key string) {
	o.members = slices.DeleteFunc(o.members, func(m member) bool { return m.key == key })
}

// present is v, or nil when v is unset: absent, null, "", [] or {}.
func present(v json.RawMessage) json.RawMessage {
	if v == nil {
		return nil
	}
	var x any
	if json.Unmarshal(v, &x) != nil {
		return v
	}
	switch x := x.(type) {
	case nil:
		return nil
	case string:
		if x == "" {
			return nil
		}
	case []any:
		if len(x) == 0 {
			return nil
		}
	case map[string]any:
		if len(x) == 0 {
			return nil
		}
	}
	return v
}

// sameValue compares two JSON values as values (not bytes), unset ones
// being all the same.
func sameValue(a, b json.RawMessage) bool {
	a, b = present(a), present(b)
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(x, y)
}
