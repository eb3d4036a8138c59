package summary

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/rebasekit/rebasekit/pkg/linestream"
	"github.com/rebasekit/rebasekit/pkg/packages"
	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/rebasekit/rebasekit/pkg/registry"
	"golang.org/x/sync/errgroup"
)

// Rebase collects the results of a run, as they come (Add), and says at the
// end what moved (Bases, Write). Add only keeps a few strings per rebased or
// failed image; the registry is read in Bases alone, once per base.
type Rebase struct {
	// Packages reads the bases' package lists; nil reads none (the
	// sections say so).
	Packages *packages.Reader
	// OldBase, when the run named the old base itself (crane rebase's
	// --old_base), is that reference: the old base digests are its
	// repository's, not the base name's.
	OldBase string
	// Jobs bounds the bases read at once (default 4).
	Jobs int
	// Insecure allows plain HTTP to any registry, not only loopback ones.
	Insecure bool

	mu     sync.Mutex
	dryRun bool
	groups map[string]*group
	order  []string
	failed []Failure
}

// Failure is a line that failed.
type Failure struct {
	Line   int    `json:"line"`
	Input  string `json:"input"`
	Reason string `json:"reason"`
}

// Image is an image rebased onto a base.
type Image struct {
	Ref       string `json:"ref"` // the input reference
	Digest    string `json:"digest"`
	NewDigest string `json:"newDigest"`
	// Signed: "signed", "not signed", or with dry run "would be signed".
	Signed string `json:"signed"`
}

// Platform is one platform of a base that moved.
type Platform struct {
	Platform string `json:"platform"`
	Old      string `json:"old"` // the old base's manifest for it
	New      string `json:"new"`
	// Changes are its packages that changed, when both lists are known.
	Changes *packages.Changes `json:"changes,omitempty"`
	// OldPackages, NewPackages say where each list came from, or why it is
	// unknown (the packages themselves are left out).
	OldPackages packages.List `json:"oldPackages"`
	NewPackages packages.List `json:"newPackages"`
}

// Base is a base that moved, and the images rebased onto it.
type Base struct {
	Name      string     `json:"name"`
	Platforms []Platform `json:"platforms"`
	Images    []Image    `json:"images"`
}

type group struct {
	base Base
}

// Add records a line's result; call it for every line, in input order.
func (s *Rebase) Add(line int, res rebase.Result) {
	if res.DryRun {
		s.mu.Lock()
		s.dryRun = true
		s.mu.Unlock()
	}
	switch res.Action {
	case rebase.Failed:
		s.mu.Lock()
		s.failed = append(s.failed, Failure{Line: line, Input: res.Input, Reason: oneLine(res.Reason)})
		s.mu.Unlock()
		return
	case rebase.Rebased:
	default:
		return
	}
	var plats []Platform
	for _, p := range res.Platforms {
		if p.Action == rebase.Rebased && p.OldBase != "" && p.NewBase != "" {
			plats = append(plats, Platform{Platform: p.Platform, Old: p.OldBase, New: p.NewBase})
		}
	}
	sort.Slice(plats, func(i, j int) bool { return plats[i].Platform < plats[j].Platform })
	key := res.Base
	for _, p := range plats {
		key += "|" + p.Platform + " " + p.Old + " " + p.New
	}
	signed := "not signed"
	switch {
	case len(res.Signed) > 0 && res.DryRun:
		signed = "would be signed"
	case len(res.Signed) > 0:
		signed = "signed"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups == nil {
		s.groups = map[string]*group{}
	}
	g, ok := s.groups[key]
	if !ok {
		g = &group{base: Base{Name: res.Base, Platforms: plats}}
		s.groups[key] = g
		s.order = append(s.order, key)
	}
	g.base.Images = append(g.base.Images, Image{Ref: res.Input, Digest: res.Digest, NewDigest: res.NewDigest, Signed: signed})
}

// Bases reads the package lists of every base that moved (each base
// manifest once, however many images moved with it) and returns the bases,
// sorted by name. A list that cannot be read says why; it is no error.
func (s *Rebase) Bases(ctx context.Context) []Base {
	s.mu.Lock()
	var bases []*Base
	for _, k := range s.order {
		bases = append(bases, &s.groups[k].base)
	}
	s.mu.Unlock()
	sort.SliceStable(bases, func(i, j int) bool { return bases[i].Name < bases[j].Name })
	if s.Packages != nil {
		jobs := s.Jobs
		if jobs < 1 {
			jobs = 4
		}
		var g errgroup.Group
		g.SetLimit(jobs)
		for _, b := range bases {
			for i := range b.Platforms {
				p := &b.Platforms[i]
				g.Go(func() error {
					p.OldPackages = s.list(ctx, s.oldRepo(b.Name), p.Old)
					p.NewPackages = s.list(ctx, repoOf(b.Name), p.New)
					if p.OldPackages.Known() && p.NewPackages.Known() {
						c := packages.Diff(p.OldPackages.Packages, p.NewPackages.Packages)
						p.Changes = &c
					}
					// The packages are in Changes; the lists say where they came from.
					p.OldPackages.Packages, p.NewPackages.Packages = nil, nil
					return nil
				})
			}
		}
		g.Wait()
	}
	out := make([]Base, len(bases))
	for i, b := range bases {
		out[i] = *b
	}
	return out
}

func (s *Rebase) list(ctx context.Context, repo, digest string) packages.List {
	if repo == "" {
		return packages.List{Unknown: "its repository is unknown"}
	}
	var opts []name.Option
	if s.Insecure {
		opts = append(opts, name.Insecure)
	}
	// As the engine parses: a loopback registry (localhost, 127.0.0.2,
	// LOCALHOST:5000) is spoken to in plain HTTP.
	r, err := registry.ParseReference(repo+"@"+digest, opts...)
	if err != nil {
		return packages.List{Unknown: oneLine(err.Error())}
	}
	ref, ok := r.(name.Digest)
	if !ok {
		return packages.List{Unknown: fmt.Sprintf("%s is not a digest", digest)}
	}
	l, err := s.Packages.Image(ctx, ref)
	if err != nil {
		return packages.List{Unknown: oneLine(err.Error())}
	}
	return l
}

func (s *Rebase) oldRepo(base string) string {
	if s.OldBase != "" {
		return repoOf(s.OldBase)
	}
	return repoOf(base)
}

func repoOf(ref string) string {
	r, err := name.ParseReference(ref, name.WeakValidation)
	if err != nil {
		return ""
	}
	return r.Context().Name()
}

// DryRun reports whether the images were rebased in a dry run (nothing
// pushed): the summary says "would".
func (s *Rebase) DryRun() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dryRun
}

// Failures are the lines that failed, in input order.
func (s *Rebase) Failures() []Failure {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := append([]Failure(nil), s.failed...)
	sort.SliceStable(f, func(i, j int) bool { return f[i].Line < f[j].Line })
	return f
}

// WriteMarkdown writes the summary: a section per base that moved, the
// failed lines, the counts. dryRun says the run pushed nothing: the images
// would be rebased.
func WriteMarkdown(w io.Writer, bases []Base, failed []Failure, sum linestream.Summary, dryRun bool) error {
	onto, counts := "Images rebased onto it", sum.String()
	if dryRun {
		onto, counts = "Images that would be rebased onto it", sum.DryRunString()
	}
	var b strings.Builder
	b.WriteString("# Rebase summary\n\n")
	if len(bases) == 0 {
		b.WriteString("No base moved: no image was rebased.\n\n")
	}
	for _, base := range bases {
		fmt.Fprintf(&b, "## Base %s\n\n", code(base.Name))
		b.WriteString("| Platform | Old base | New base |\n|---|---|---|\n")
		for _, p := range base.Platforms {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", escape(p.Platform), cellCode(p.Old), cellCode(p.New))
		}
		b.WriteString("\n")
		writePackages(&b, base.Platforms)
		fmt.Fprintf(&b, "%s (%d):\n\n", onto, len(base.Images))
		for _, im := range base.Images {
			fmt.Fprintf(&b, "- %s: %s -> %s, %s\n", code(im.Ref), code(im.Digest), code(im.NewDigest), im.Signed)
		}
		b.WriteString("\n")
	}
	if len(failed) > 0 {
		fmt.Fprintf(&b, "## Failed (%d)\n\n", len(failed))
		for _, f := range failed {
			fmt.Fprintf(&b, "- line %d, %s: %s\n", f.Line, code(f.Input), escape(f.Reason))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "## Counts\n\n%s\n", counts)
	_, err := io.WriteString(w, b.String())
	return err
}

// writePackages writes the package changes once when every platform's are
// the same, else per platform.
func writePackages(b *strings.Builder, plats []Platform) {
	if len(plats) == 0 {
		return
	}
	same := true
	for _, p := range plats[1:] {
		if !samePackages(p, plats[0]) {
			same = false
		}
	}
	if same {
		writeChanges(b, "Packages changed", plats[0])
		return
	}
	for _, p := range plats {
		writeChanges(b, "Packages changed on "+escape(p.Platform), p)
	}
}

func samePackages(a, b Platform) bool {
	if (a.Changes == nil) != (b.Changes == nil) {
		return false
	}
	if a.Changes == nil {
		return a.OldPackages.Unknown == b.OldPackages.Unknown && a.NewPackages.Unknown == b.NewPackages.Unknown
	}
	return fmt.Sprint(*a.Changes) == fmt.Sprint(*b.Changes) && from(a) == from(b)
}

// from says where a platform's package lists came from: the database's path,
// or the kind of SBOM (each platform's SBOM has a reference of its own: the
// report has them).
func from(p Platform) string {
	o, n := source(p.OldPackages), source(p.NewPackages)
	if o == n {
		return n
	}
	return o + " -> " + n
}

func source(l packages.List) string {
	switch l.Source {
	case packages.SPDX:
		return "the SPDX SBOM attached"
	case packages.CycloneDX:
		return "the CycloneDX SBOM attached"
	}
	if l.SBOMError != "" {
		// The SBOM attached could not be read: the layers were.
		return code(l.Where) + "; " + escape(oneLine(l.SBOMError))
	}
	return code(l.Where)
}

func writeChanges(b *strings.Builder, title string, p Platform) {
	if p.Changes == nil {
		fmt.Fprintf(b, "%s: unknown: ", title)
		switch {
		case !p.OldPackages.Known() && !p.NewPackages.Known() && p.OldPackages.Unknown == p.NewPackages.Unknown:
			fmt.Fprintf(b, "neither base lists them (%s).\n\n", escape(p.OldPackages.Unknown))
		case !p.OldPackages.Known() && !p.NewPackages.Known():
			fmt.Fprintf(b, "the old base: %s; the new base: %s.\n\n", escape(p.OldPackages.Unknown), escape(p.NewPackages.Unknown))
		case !p.OldPackages.Known():
			fmt.Fprintf(b, "the old base: %s.\n\n", escape(p.OldPackages.Unknown))
		default:
			fmt.Fprintf(b, "the new base: %s.\n\n", escape(p.NewPackages.Unknown))
		}
		return
	}
	c := p.Changes
	if c.Empty() {
		fmt.Fprintf(b, "%s: none (from %s).\n\n", title, from(p))
		return
	}
	fmt.Fprintf(b, "%s (from %s):\n\n", title, from(p))
	for _, u := range c.Upgraded {
		fmt.Fprintf(b, "- %s %s -> %s\n", escape(u.Name), code(u.Old), code(u.New))
	}
	for _, a := range c.Added {
		fmt.Fprintf(b, "- added %s %s\n", escape(a.Name), code(a.Version))
	}
	for _, r := range c.Removed {
		fmt.Fprintf(b, "- removed %s %s\n", escape(r.Name), code(r.Version))
	}
	b.WriteString("\n")
}

// code quotes s as Markdown inline code. s is flattened to one line
// first: a newline in a version or a reference read from a registry or an
// SBOM must not start a heading or a paragraph of its own in a pull
// request's body. The fence is a run of backticks longer than any inside,
// padded with spaces when s starts or ends with a backtick or a space, as
// CommonMark reads inline code.
func code(s string) string {
	s = flat(s)
	if s == "" {
		return "(none)"
	}
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") || (strings.HasPrefix(s, " ") && strings.HasSuffix(s, " ")) {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

// cellCode is code for a table cell: a | would end the cell even in inline
// code (GitHub's tables), so it is escaped.
func cellCode(s string) string { return strings.ReplaceAll(code(s), "|", `\|`) }

// escape keeps s from being read as Markdown: it is flattened to one line
// and every ASCII punctuation character that Markdown gives a meaning
// (emphasis, links, images, HTML, tables, headings; Debian versions hold ~)
// is backslash-escaped.
func escape(s string) string {
	var b strings.Builder
	for _, r := range flat(s) {
		if strings.ContainsRune("\\`*_[]<>|~#&", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// flat puts s on one line: each control character (a newline, a carriage
// return, a tab, an escape, the Unicode line and paragraph separators) is
// written as its Go escape (\n, \x1b, \u2028), visible and inert.
func flat(s string) string {
	if !strings.ContainsFunc(s, unsafeRune) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unsafeRune(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029'
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
