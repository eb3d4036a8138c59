package packages

import (
	"sort"
	"strings"
)

// Package is one installed package.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Arch is the package's architecture where the list says it (dpkg's
	// Architecture field, a purl's arch qualifier). It is shown only for a
	// name installed more than once (dpkg's multi-arch libc6:amd64 and
	// libc6:i386), to say which of them moved.
	Arch string `json:"arch,omitempty"`
}

// Source says where a List came from.
type Source string

const (
	APK       Source = "apk"       // lib/apk/db/installed
	Dpkg      Source = "dpkg"      // var/lib/dpkg/status, var/lib/dpkg/status.d/*
	SPDX      Source = "spdx"      // an SPDX JSON SBOM
	CycloneDX Source = "cyclonedx" // a CycloneDX JSON SBOM
	RPM       Source = "rpm"       // an rpm database, recognised, not read
	None      Source = ""          // no SBOM, no package database
)

// List is the packages of one image, sorted by name then version.
type List struct {
	Source Source `json:"source,omitempty"`
	// Where says where the list was read: the database's path, or the SBOM's
	// reference.
	Where    string    `json:"where,omitempty"`
	Packages []Package `json:"packages,omitempty"`
	// Unknown says why the packages could not be listed (no database, an rpm
	// database); empty when they were.
	Unknown string `json:"unknown,omitempty"`
	// SBOMError says why the SBOM attached to the image could not be read,
	// when it could not: the list is then its layers'.
	SBOMError string `json:"sbomError,omitempty"`
}

// Known reports whether l lists the image's packages.
func (l List) Known() bool { return l.Unknown == "" }

func sortPackages(ps []Package) []Package {
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].Name != ps[j].Name {
			return ps[i].Name < ps[j].Name
		}
		if ps[i].Version != ps[j].Version {
			return ps[i].Version < ps[j].Version
		}
		return ps[i].Arch < ps[j].Arch
	})
	// Drop exact duplicates (an SBOM listing a package twice).
	out := ps[:0]
	for i, p := range ps {
		if i > 0 && p == ps[i-1] {
			continue
		}
		out = append(out, p)
	}
	return out
}

// versions maps each name to its versions, joined with ", " (a name can be
// installed twice: dpkg's multi-arch libc6:amd64 and libc6:i386 are both
// "libc6"). A name installed more than once has each version followed by
// its architecture, when known: "2.36-9 (amd64), 2.36-8 (i386)".
func versions(ps []Package) map[string]string {
	m := map[string][]Package{}
	for _, p := range ps {
		m[p.Name] = append(m[p.Name], p)
	}
	out := make(map[string]string, len(m))
	for n, same := range m {
		vs := make([]string, len(same))
		for i, p := range same {
			vs[i] = p.Version
			if len(same) > 1 && p.Arch != "" {
				vs[i] += " (" + p.Arch + ")"
			}
		}
		sort.Strings(vs)
		out[n] = strings.Join(vs, ", ")
	}
	return out
}

// Change is a package whose version changed.
type Change struct {
	Name string `json:"name"`
	Old  string `json:"old"`
	New  string `json:"new"`
}

// Changes is what changed between two lists; unchanged packages are not in
// it. Each slice is sorted by name.
type Changes struct {
	Upgraded []Change  `json:"upgraded,omitempty"` // or downgraded: the version changed
	Added    []Package `json:"added,omitempty"`
	Removed  []Package `json:"removed,omitempty"`
}

// Empty reports whether no package changed.
func (c Changes) Empty() bool { return len(c.Upgraded)+len(c.Added)+len(c.Removed) == 0 }

// Diff is what changed from old to new.
func Diff(old, new []Package) Changes {
	o, n := versions(old), versions(new)
	var c Changes
	for name, nv := range n {
		ov, ok := o[name]
		switch {
		case !ok:
			c.Added = append(c.Added, Package{Name: name, Version: nv})
		case ov != nv:
			c.Upgraded = append(c.Upgraded, Change{name, ov, nv})
		}
	}
	for name, ov := range o {
		if _, ok := n[name]; !ok {
			c.Removed = append(c.Removed, Package{Name: name, Version: ov})
		}
	}
	sort.Slice(c.Upgraded, func(i, j int) bool { return c.Upgraded[i].Name < c.Upgraded[j].Name })
	sort.Slice(c.Added, func(i, j int) bool { return c.Added[i].Name < c.Added[j].Name })
	sort.Slice(c.Removed, func(i, j int) bool { return c.Removed[i].Name < c.Removed[j].Name })
	return c
}
