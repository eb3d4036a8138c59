package layout

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Prefix is the transport prefix of a layout reference, as skopeo spells it.
const Prefix = "oci:"

// Ref is a reference into an OCI image layout: oci:DIR:NAME,
// oci:DIR@sha256:HEX or oci:DIR:NAME@sha256:HEX.
type Ref struct {
	Dir    string  // the layout directory, as written
	Name   string  // the org.opencontainers.image.ref.name, or ""
	Digest v1.Hash // the manifest's digest, or the zero Hash
}

// IsRef reports whether s is spelled as a layout reference (oci:...),
// right or wrong: such a line is never a registry reference.
func IsRef(s string) bool { return strings.HasPrefix(s, Prefix) }

// refName is what the image-spec allows in a ref.name (its refname rule:
// components of alphanumerics joined by - . _ : @ / +), which is what
// skopeo accepts after oci:DIR:.
var refName = regexp.MustCompile(`^[A-Za-z0-9]+(?:(?:[-._:@/+]|--)[A-Za-z0-9]+)*$`)

// Parse reads a layout reference. As skopeo does, the directory ends at the
// first colon (a directory whose name has a colon cannot be named), and a
// digest is the part after the last @ when it is one.
func Parse(s string) (Ref, error) {
	if !IsRef(s) {
		return Ref{}, fmt.Errorf("%q is not an OCI layout reference (oci:DIR:NAME or oci:DIR@sha256:HEX)", s)
	}
	rest := strings.TrimPrefix(s, Prefix)
	var r Ref
	if i := strings.LastIndex(rest, "@"); i >= 0 && (strings.HasPrefix(rest[i+1:], "sha256:") || strings.HasPrefix(rest[i+1:], "sha512:")) {
		h, err := v1.NewHash(rest[i+1:])
		if err != nil {
			return Ref{}, fmt.Errorf("%q: the digest %q: %w", s, rest[i+1:], err)
		}
		r.Digest, rest = h, rest[:i]
	}
	dir, nm, hasName := strings.Cut(rest, ":")
	if dir == "" {
		return Ref{}, fmt.Errorf("%q names no layout directory (oci:DIR:NAME)", s)
	}
	if hasName && !refName.MatchString(nm) {
		return Ref{}, fmt.Errorf("%q: %q is not a ref.name (letters and digits joined by - . _ : @ / +)", s, nm)
	}
	if !hasName && r.Digest.Hex == "" {
		return Ref{}, fmt.Errorf("%q names no image in the layout: give oci:DIR:NAME (its ref.name) or oci:DIR@sha256:HEX", s)
	}
	r.Dir, r.Name = dir, nm
	return r, nil
}

// String spells r as Parse reads it.
func (r Ref) String() string {
	s := Prefix + r.Dir
	if r.Name != "" {
		s += ":" + r.Name
	}
	if r.Digest.Hex != "" {
		s += "@" + r.Digest.String()
	}
	return s
}

// key is the directory a Ref names, cleaned and absolute, so that two
// spellings of one directory are one layout.
func key(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	return filepath.Clean(abs), nil
}
