// Package yamlflags holds the input and selection flags ko-extract and
// ko-rewrite share, so both read the same files and select the same
// references in the same order by construction.
package yamlflags

import (
	"fmt"
	"os"
	"strings"

	"github.com/rebasekit/rebasekit/internal/cmdline"
	"github.com/rebasekit/rebasekit/internal/inputs"
	"github.com/rebasekit/rebasekit/pkg/refs"
	"github.com/rebasekit/rebasekit/pkg/yamlwalk"
	"github.com/urfave/cli/v2"
)

// Flags are the input and selection flags.
func Flags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "filename", Aliases: []string{"f"}, Usage: "`FILE`, directory or - (stdin) to read; repeatable; stdin when absent"},
		&cli.BoolFlag{Name: "recursive", Aliases: []string{"R"}, Usage: "walk directories given with -f recursively"},
		&cli.StringSliceFlag{Name: "prefix", Usage: "select only references under `REPO` (repeatable); turns on the prefix rule; default $KO_DOCKER_REPO"},
		&cli.BoolFlag{Name: "all", Usage: "ignore $KO_DOCKER_REPO: select by the key, pinned and marker rules alone"},
	}
}

// Selection is what the flags select.
type Selection struct {
	Inputs []inputs.Input
	Walker *yamlwalk.Walker
	from   string // where the prefixes came from: --prefix or $KO_DOCKER_REPO
	warn   func(msg string)
	bare   []bareRepo // bare repositories under a prefix, in input order
	// partial: a directory's subdirectories were not walked (no -R), and
	// the warning said so; a prefix may select what they hold.
	partial bool
}

// bareRepo is a repository without a tag or digest under a prefix, at FILE:LINE:COL.
type bareRepo struct{ at, repo string }

// WarnUnusedPrefixes warns once for each prefix under which nothing in occs
// (every occurrence in the whole input) lies: a typo, or another registry
// than the references name, must not select nothing silently. A prefix that
// holds only bare repositories (a Flux ImageRepository's spec.image) is
// right, and the warning says there is nothing to rebase under it instead.
//
// After the warning that subdirectories were not walked (no -R) it says
// nothing: the references under the prefix are likely there, and that
// warning already says what to do.
func (s *Selection) WarnUnusedPrefixes(occs []*yamlwalk.Occurrence) {
	if s.partial {
		return
	}
	for _, p := range s.Walker.UnusedPrefixes(occs) {
		if at := s.bareUnder(p); at != "" {
			s.warn(fmt.Sprintf("%s %q holds only repositories without a tag or digest (%s); nothing to rebase", s.from, p, at))
			continue
		}
		s.warn(fmt.Sprintf("%s %q selects nothing in the input; check it for a typo (prefixes match as a registry reads them: docker.io/acme holds acme/app)", s.from, p))
	}
}

// bareUnder returns where the bare repositories under prefix p are, the
// first three and how many more, or "".
func (s *Selection) bareUnder(p string) string {
	var at []string
	n := 0
	for _, b := range s.bare {
		if !s.Walker.PrefixHolds(p, b.repo) {
			continue
		}
		if n++; n <= 3 {
			at = append(at, b.at)
		}
	}
	if n > 3 {
		at = append(at, fmt.Sprintf("and %d more", n-3))
	}
	return strings.Join(at, ", ")
}

// FromContext reads the flags. Warnings go to stderr.
func FromContext(c *cli.Context) (*Selection, error) {
	if c.NArg() > 0 {
		return nil, cmdline.Usagef("unexpected argument %q: give inputs with -f", c.Args().First())
	}
	prefixes := c.StringSlice("prefix")
	if c.Bool("all") && len(prefixes) > 0 {
		return nil, cmdline.Usagef("--all and --prefix contradict each other: --all selects without prefixes")
	}
	if len(prefixes) == 0 && !c.Bool("all") {
		if r := os.Getenv("KO_DOCKER_REPO"); r != "" {
			prefixes = []string{r}
		}
	}
	from := "--prefix"
	if len(c.StringSlice("prefix")) == 0 {
		from = "$KO_DOCKER_REPO"
	}
	for _, p := range prefixes {
		if r, ok := refs.Parse(strings.TrimSuffix(p, "/")); !ok || r.Tag != "" || r.Digest != "" {
			return nil, cmdline.Usagef("%s %q is not a repository (like ghcr.io/acme or gcr.io/project/path); a typo here would silently select nothing", from, p)
		}
	}
	ins, err := inputs.Expand(c.StringSlice("filename"), c.Bool("recursive"))
	if err != nil {
		return nil, err
	}
	errw := c.App.ErrWriter
	warn := func(msg string) { fmt.Fprintf(errw, "%s: warning: %s\n", c.App.Name, msg) }
	partial := false
	if !c.Bool("recursive") {
		for _, a := range c.StringSlice("filename") {
			if msg := inputs.NotWalked(a); msg != "" {
				warn(msg)
				partial = true
			}
		}
	}
	// Only prefixes a user names read "mariadb" as the official image too:
	// $KO_DOCKER_REPO is where ko pushes, a namespace, never library/.
	w := &yamlwalk.Walker{Prefixes: prefixes, OfficialImages: from == "--prefix", Warn: warn}
	sel := &Selection{Inputs: ins, Walker: w, from: from, warn: warn, partial: partial}
	w.Bare = func(file string, line, column int, repo string) {
		sel.bare = append(sel.bare, bareRepo{fmt.Sprintf("%s:%d:%d", file, line, column), repo})
	}
	return sel, nil
}

// SelectionHelp explains the selection rules; both tools print it in --help.
const SelectionHelp = `SELECTION RULES
   A string scalar (plain, quoted, | or >) is selected when:
     key       it is the value of a key named "image" and is a reference (not a Flux ImageRepository's spec.image)
                 image: nginx:1.27
     pinned    the whole string is a reference pinned by digest, under any key
                 queue-sidecar-image: gcr.io/k/queue@sha256:<64 hex>
     prefix    with --prefix or $KO_DOCKER_REPO, the whole string is a reference under it
                 default: ghcr.io/acme/app:v1            (--prefix ghcr.io/acme)
     embedded  a token of a longer string (split on blanks, =, comma, quotes) that is pinned or under a prefix
                 args: ["--sidecar=gcr.io/k/sidecar@sha256:<64 hex>"]
     marker    a setter comment: stacker {"$rebase": "ID:name"} / "ID:tag", Flux {"$imagepolicy": "NS:P"} (:name, :tag, :digest)
                 repository: ghcr.io/acme/app # {"$rebase": "app:name"}
                 tag: v1.2.0                  # {"$rebase": "app:tag"}
     split     a reference in parts, pinned (or tagged, under a prefix): a Helm image map
               ([registry:] repository: + tag: and/or digest: or sha:, tag may be T@sha256:D) or an entry of a
               Kustomization's images: (name:/newName: + newTag:/digest:); the digest is written back
               into digest: or sha: (sha: keeps its form, hex only when empty; beside an empty digest:,
               a set sha: is the one in use; a kustomize entry gets a new digest: line), else onto the
               tag as T@sha256:D; a map with digest: and sha: both set or both empty is not selected
   With prefixes, only references under them with a tag or digest are selected (markers always are);
   docker.io/acme, index.docker.io/acme and acme are one prefix, which holds acme/app; a one-component
   Docker Hub --prefix also holds that official image in a whole string: --prefix mariadb holds
   mariadb:10.6.4-focal and mariadb/x, but not the token of "chown mariadb:mysql /data"; $KO_DOCKER_REPO
   (where ko pushes, never library/) is the namespace alone: docker.io/alice holds alice/app only.
   Outside an image key, NAME:DIGITS is a host and port (frontend:80, 5000:5000), not an image: write
   it in full (docker.io/library/NAME:16), pin it, or mark it {"$rebase": "ID"} to have it selected.
   Never selected: comments, keys, aliases, non-strings, ko:// strings (a warning says "run ko resolve first").
   Order: files in the order given (a directory's .yaml/.yml/.json files sorted by path), then position.`
