package refs

import (
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Ref is a reference split into the parts as written. Nothing is normalised:
// "nginx" keeps Repository "nginx", not "index.docker.io/library/nginx".
type Ref struct {
	Repository string // registry host (if written) and path
	Tag        string // without ":"; empty when absent
	Digest     string // "sha256:<hex>"; empty when absent
}

// String reassembles the reference exactly as it was written.
func (r Ref) String() string {
	s := r.Repository
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// Pinned reports whether the reference names its image by a sha256 digest.
func (r Ref) Pinned() bool { return r.Digest != "" }

// Parse splits s into a Ref when s is a valid reference (see Valid).
func Parse(s string) (Ref, bool) {
	r, ok := split(s)
	if !ok {
		return Ref{}, false
	}
	if _, err := name.ParseReference(s); err != nil {
		return Ref{}, false
	}
	return r, true
}

// Valid reports whether s is a whole image reference by the distribution grammar.
func Valid(s string) bool {
	_, ok := Parse(s)
	return ok
}

// IsPinned reports whether s is a valid reference pinned by a sha256 digest.
// It is cheap to call on every string in a file: most strings fail the first check.
func IsPinned(s string) bool {
	if !strings.Contains(s, "@sha256:") {
		return false
	}
	r, ok := Parse(s)
	return ok && r.Pinned()
}

// SameRepository reports whether a and b name the same repository once
// defaults are applied ("nginx" and "index.docker.io/library/nginx" do).
func SameRepository(a, b string) bool {
	ra, err := name.ParseReference(a)
	if err != nil {
		return false
	}
	rb, err := name.ParseReference(b)
	if err != nil {
		return false
	}
	return ra.Context().Name() == rb.Context().Name()
}

// UnderPrefix reports whether repository repo is prefix itself or lies under it
// at a "/" boundary: "gcr.io/a" holds "gcr.io/a/b" but not "gcr.io/ab".
func UnderPrefix(repo, prefix string) bool {
	prefix = strings.TrimSuffix(prefix, "/")
	if !strings.HasPrefix(repo, prefix) {
		return false
	}
	return len(repo) == len(prefix) || repo[len(prefix)] == '/'
}

// split checks s against the reference grammar and returns its parts.
func split(s string) (Ref, bool) {
	if s == "" || len(s) > 4096 {
		return Ref{}, false
	}
	var r Ref
	rest := s
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		d := rest[i+1:]
		if !validDigest(d) {
			return Ref{}, false
		}
		r.Digest = d
		rest = rest[:i]
	}
	// A tag is after the last ':' that follows the last '/'.
	slash := strings.LastIndexByte(rest, '/')
	if i := strings.LastIndexByte(rest, ':'); i > slash {
		t := rest[i+1:]
		if !validTag(t) {
			return Ref{}, false
		}
		r.Tag = t
		rest = rest[:i]
	}
	if !validName(rest) {
		return Ref{}, false
	}
	r.Repository = rest
	return r, true
}

func validDigest(d string) bool {
	hex, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(hex) != 64 {
		return false
	}
	for i := 0; i < len(hex); i++ {
		c := hex[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func validTag(t string) bool {
	if t == "" || len(t) > 128 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		word := c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !word && (i == 0 || c != '.' && c != '-') {
			return false
		}
	}
	return true
}

// validName checks [domain "/"] path-component ("/" path-component)*.
func validName(n string) bool {
	if n == "" || len(n) > 255 {
		return false
	}
	comps := strings.Split(n, "/")
	if len(comps) > 1 && isDomain(comps[0]) {
		if !validDomain(comps[0]) {
			return false
		}
		comps = comps[1:]
	}
	for _, c := range comps {
		if !validPathComponent(c) {
			return false
		}
	}
	return true
}

// isDomain is the distribution rule: the first component names a registry
// when it has a dot, a colon, or is "localhost".
func isDomain(c string) bool {
	return strings.ContainsAny(c, ".:") || c == "localhost"
}

func validDomain(d string) bool {
	host, port, hasPort := strings.Cut(d, ":")
	if hasPort {
		if port == "" || len(port) > 5 {
			return false
		}
		for i := 0; i < len(port); i++ {
			if port[i] < '0' || port[i] > '9' {
				return false
			}
		}
	}
	if strings.HasPrefix(host, "[") { // IPv6 literal
		return strings.HasSuffix(host, "]") && len(host) > 2 && strings.Trim(host[1:len(host)-1], "0123456789abcdefABCDEF:.") == ""
	}
	if host == "" {
		return false
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
				return false
			}
		}
	}
	return true
}

// validPathComponent: [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*
func validPathComponent(c string) bool {
	if c == "" {
		return false
	}
	alnum := func(b byte) bool { return 'a' <= b && b <= 'z' || '0' <= b && b <= '9' }
	if !alnum(c[0]) || !alnum(c[len(c)-1]) {
		return false
	}
	for i := 1; i < len(c); {
		if alnum(c[i]) {
			i++
			continue
		}
		// a separator run
		j := i
		for j < len(c) && !alnum(c[j]) {
			j++
		}
		sep := c[i:j]
		switch {
		case sep == "." || sep == "_" || sep == "__":
		case strings.Trim(sep, "-") == "":
		default:
			return false
		}
		i = j
	}
	return true
}
