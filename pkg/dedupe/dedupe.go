package dedupe

// Index assigns each distinct string the number of its first occurrence,
// counting from 0. The zero value is ready to use.
type Index struct {
	pos   map[string]int
	order []string
}

// Add records s and returns its index and whether this is its first occurrence.
func (x *Index) Add(s string) (int, bool) {
	if i, ok := x.pos[s]; ok {
		return i, false
	}
	if x.pos == nil {
		x.pos = make(map[string]int)
	}
	x.pos[s] = len(x.order)
	x.order = append(x.order, s)
	return len(x.order) - 1, true
}

// Lookup returns the index of s and whether it was added.
func (x *Index) Lookup(s string) (int, bool) {
	i, ok := x.pos[s]
	return i, ok
}

// Len is the number of distinct strings added.
func (x *Index) Len() int { return len(x.order) }

// Values returns the distinct strings in first-occurrence order.
func (x *Index) Values() []string { return append([]string(nil), x.order...) }
