package yamlwalk

import (
	"strings"

	"github.com/rebasekit/rebasekit/pkg/refs"
)

// Prefixes are matched as a registry reads references: "docker.io/acme",
// "index.docker.io/acme" and "acme" are one prefix, which holds "acme/app:1"
// and "index.docker.io/acme/x:2"; "docker.io/library" holds "nginx". The
// references themselves are still reported as written.
//
// With Walker.OfficialImages, a Docker Hub prefix of one component
// ("mariadb", "docker.io/mariadb") is read both ways: as the namespace it is
// to a registry (mariadb/foo) and as the official image it names when
// written alone, "mariadb:10.6.4-focal" (index.docker.io/library/mariadb),
// which is what a user who names the image means. The official image is
// matched exactly, with its tags and digests, and only in whole strings and
// image maps (rules 1 to 3 and split): a token of a longer string
// ("chown alice:staff", "--basic-auth=alice:s3cret") is far more often a
// user and group or a name and password than an image. Without it (a
// prefix that is a user's namespace, such as ko's push target: ko never
// pushes to library/), the prefix is the namespace alone. The prefix still
// matches whole path components, so "maria" holds neither.

const dockerHub = "index.docker.io"

// isDomain is the distribution rule: a first component names a registry when
// it has a dot or a colon, or is "localhost".
func isDomain(c string) bool {
	return strings.ContainsAny(c, ".:") || c == "localhost"
}

// normRepo returns repository repo (as refs.Parse splits it) as a registry
// reads it: "nginx" is "index.docker.io/library/nginx", "acme/app" is
// "index.docker.io/acme/app", "docker.io/x" is "index.docker.io/library/x".
func normRepo(repo string) string {
	first, rest, ok := strings.Cut(repo, "/")
	switch {
	case !ok:
		return dockerHub + "/library/" + repo
	case !isDomain(first):
		return dockerHub + "/" + repo
	case first == "docker.io" || first == dockerHub:
		if !strings.Contains(rest, "/") {
			return dockerHub + "/library/" + rest
		}
		return dockerHub + "/" + rest
	}
	return repo
}

// normPrefix returns a prefix as a registry reads it. Unlike a repository, a
// prefix's first component is a registry whenever it looks like one
// ("docker.io", "gcr.io"), and a one-component prefix ("acme") is a Docker
// Hub namespace, not a library image.
func normPrefix(p string) string {
	p = strings.TrimSuffix(p, "/")
	first, rest, ok := strings.Cut(p, "/")
	switch {
	case !isDomain(first):
		return dockerHub + "/" + p
	case first == "docker.io":
		first = dockerHub
	}
	if ok {
		return first + "/" + rest
	}
	return first
}

// prefixGate returns text that every reference under the normalised prefix
// p holds as written, for a cheap first test: "acme" for index.docker.io/acme
// (written "acme/app"), "" for Docker Hub's library (written "nginx").
func prefixGate(p string) string {
	rest, ok := strings.CutPrefix(p, dockerHub)
	if !ok {
		return p
	}
	rest = strings.TrimPrefix(rest, "/")
	if rest == "library" {
		return ""
	}
	return strings.TrimPrefix(rest, "library/")
}

// officialImage returns the official image a normalised prefix also names
// ("index.docker.io/library/mariadb" for "index.docker.io/mariadb"), or "".
func officialImage(p string) string {
	rest, ok := strings.CutPrefix(p, dockerHub+"/")
	if !ok || rest == "" || strings.Contains(rest, "/") || rest == "library" {
		return ""
	}
	return dockerHub + "/library/" + rest
}

type prefixSet struct {
	norm     []string
	gates    []string
	official []string // with official images: officialImage of each prefix that names one
}

// newPrefixSet returns the set of prefixes ps; official reads one-component
// Docker Hub prefixes as official images too (Walker.OfficialImages).
func newPrefixSet(ps []string, official bool) *prefixSet {
	s := &prefixSet{}
	for _, p := range ps {
		n := normPrefix(p)
		s.norm = append(s.norm, n)
		s.gates = append(s.gates, prefixGate(n))
		if o := officialImage(n); o != "" && official {
			s.official = append(s.official, o)
		}
	}
	return s
}

func (s *prefixSet) mayHold(v string) bool {
	for _, g := range s.gates {
		if strings.Contains(v, g) {
			return true
		}
	}
	return false
}

// holds reports whether repository repo, as written in a whole string or an
// image map, lies under a prefix or is an official image one names.
func (s *prefixSet) holds(repo string) bool {
	if s.holdsNamespace(repo) {
		return true
	}
	n := normRepo(repo)
	for _, o := range s.official {
		if n == o {
			return true
		}
	}
	return false
}

// holdsNamespace reports whether repository repo, as written, lies under a
// prefix read as a registry reads it (never as an official image): the test
// for a token of a longer string.
func (s *prefixSet) holdsNamespace(repo string) bool {
	n := normRepo(repo)
	for _, p := range s.norm {
		if refs.UnderPrefix(n, p) {
			return true
		}
	}
	return false
}

// UnusedPrefixes returns the prefixes under which none of occs lies: a typo,
// or a registry other than the one the references name. Markers count: they
// are selected whatever the prefixes, but one under a prefix shows it is right.
func (w *Walker) UnusedPrefixes(occs []*Occurrence) []string {
	var out []string
	for i, p := range w.Prefixes {
		one := newPrefixSet(w.Prefixes[i:i+1], w.OfficialImages)
		used := false
		for _, o := range occs {
			if r, ok := refs.Parse(o.Ref); ok && one.holds(r.Repository) {
				used = true
				break
			}
		}
		if !used {
			out = append(out, p)
		}
	}
	return out
}

// PrefixHolds reports whether prefix p holds repository repo, written as a
// whole string, as the walker reads prefixes (OfficialImages included).
func (w *Walker) PrefixHolds(p, repo string) bool {
	return newPrefixSet([]string{p}, w.OfficialImages).holds(repo)
}
