package yamlwalk_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rebasekit/rebasekit/pkg/refs"
	"github.com/rebasekit/rebasekit/pkg/rewrite"
	"github.com/rebasekit/rebasekit/pkg/yamlwalk"
)

// wildRegistries is a prefix for every registry the wild2/ and wild3/ files
// name, Docker Hub whole ("docker.io" holds every short name): the widest
// selection a user can make, so the most spans to splice.
var wildRegistries = []string{
	"docker.io", "quay.io", "ghcr.io", "gcr.io", "registry.k8s.io", "cgr.dev",
	"us-central1-docker.pkg.dev", "registry.istio.io", "xpkg.upbound.io",
	"ecr-public.aws.com", "public.ecr.aws", "registry.redhat.io",
}

// wildNothing are the files in which nothing is ever selected, and why.
var wildNothing = map[string]string{
	"wild3/flux-imagerepository-sample.yaml": "a Flux ImageRepository's spec.image is a repository to scan, refused with a tag or digest",
}

// wildFiles returns the YAML files under the corpus's wild2/ and wild3/:
// .yaml, .yml, .json and files without an extension (Kptfile,
// Kustomization); SOURCES.md and other documentation are not YAML.
func wildFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, dir := range []string{"wild2", "wild3"} {
		root := filepath.Join(corpusDir(t), dir)
		if _, err := os.Stat(root); err != nil {
			t.Skipf("corpus folder missing (set REBASEKIT_CORPUS to shared/corpus): %v", err)
		}
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			switch filepath.Ext(path) {
			case ".yaml", ".yml", ".json", "":
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return files
}

// TestCorpusWild walks every file of the corpus's wild2/ and wild3/ (about
// fifty real files: Helm values, Flux and Argo CD objects, kustomizations,
// compose, CRLF, JSON) with the default rules and with every registry as a
// prefix, and checks what a user of ko-rewrite relies on: an identity
// rewrite is byte-identical; a digest rewrite changes only lines the walker
// located a reference (or a part of one) on, adds only a kustomize entry's
// digest: line, and a walk of the result finds each new reference where the
// old one was.
func TestCorpusWild(t *testing.T) {
	files := wildFiles(t)
	for _, sel := range []struct {
		name     string
		prefixes []string
		min      int // occurrences across both folders, so the test is not vacuous
	}{
		{"default", nil, 90},
		{"registries", wildRegistries, 190},
	} {
		t.Run(sel.name, func(t *testing.T) {
			total := 0
			for _, path := range files {
				rel, _ := filepath.Rel(corpusDir(t), path)
				src, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				w := &yamlwalk.Walker{Prefixes: sel.prefixes, Warn: func(string) {}}
				occs, docStarts, err := w.CollectDocs(rel, src)
				if err != nil {
					t.Errorf("%s: %v", rel, err)
					continue
				}
				total += len(occs)
				if why, ok := wildNothing[filepath.ToSlash(rel)]; ok && len(occs) > 0 {
					t.Errorf("%s:%d:%d: %q selected, want nothing: %s", rel, occs[0].Line, occs[0].Column, occs[0].Ref, why)
				}
				checkWildSelection(t, w, rel, occs)
				checkWildFile(t, w, rel, src, occs, docStarts)
			}
			t.Logf("%d files, %d occurrences", len(files), total)
			if total < sel.min {
				t.Errorf("%d occurrences across wild2/ and wild3/, want at least %d: the walk selects too little to test anything", total, sel.min)
			}
		})
	}
}

// checkWildSelection checks what the README says is never selected: under
// a prefix a bare repository (a Flux ImageRepository's spec.image), and
// outside an image: key a host and port ("frontend:80", "- 5000:5000").
func checkWildSelection(t *testing.T, w *yamlwalk.Walker, file string, occs []*yamlwalk.Occurrence) {
	t.Helper()
	for _, o := range occs {
		r, _ := refs.Parse(o.Ref)
		if len(w.Prefixes) > 0 && o.Rule != yamlwalk.RuleMarker && r.Tag == "" && r.Digest == "" {
			t.Errorf("%s:%d:%d: bare repository %q selected under a prefix (rule %s)", file, o.Line, o.Column, o.Ref, o.Rule)
		}
		if (o.Rule == yamlwalk.RulePrefix || o.Rule == yamlwalk.RuleEmbedded) && !strings.Contains(r.Repository, "/") && r.Digest == "" && strings.Trim(r.Tag, "0123456789") == "" {
			t.Errorf("%s:%d:%d: host and port %q selected as an image (rule %s)", file, o.Line, o.Column, o.Ref, o.Rule)
		}
	}
}

func checkWildFile(t *testing.T, w *yamlwalk.Walker, file string, src []byte, occs []*yamlwalk.Occurrence, docStarts []int) {
	t.Helper()
	if s := spliceAll(t, src, occs, identity); !bytes.Equal(s.Out, src) || s.Changed() {
		t.Errorf("%s: identity rewrite changed the file", file)
		return
	}
	if len(occs) == 0 {
		return
	}
	s := spliceAll(t, src, occs, fakeNew)
	if err := rewrite.Verify(w, file, s, occs, docStarts); err != nil {
		t.Errorf("%s: %v", file, err)
		return
	}
	// Every changed line holds a reference or a part of one.
	refLines := map[int]bool{}
	for _, sp := range spans(occs) {
		refLines[bytes.Count(src[:sp.Start], []byte("\n"))] = true
		refLines[bytes.Count(src[:sp.End], []byte("\n"))] = true
	}
	if err := onlyLines(src, s.Out, refLines); err != nil {
		t.Errorf("%s: %s", file, err)
	}
	// A new walk finds every reference pinned to its new digest, in order.
	after, err := w.Collect(file, s.Out)
	if err != nil {
		t.Errorf("%s: the rewritten file does not parse: %v", file, err)
		return
	}
	if len(after) != len(occs) {
		t.Errorf("%s: %d references before the rewrite, %d after", file, len(occs), len(after))
		return
	}
	for i, o := range occs {
		want, _ := refs.Parse(fakeNew(o.Ref))
		got, ok := refs.Parse(after[i].Ref)
		if !ok || got.Digest != want.Digest || got.Repository != want.Repository || after[i].Path != o.Path {
			t.Errorf("%s:%d:%d: after the rewrite %s reads %q, want %s pinned to %s", file, o.Line, o.Column, after[i].Path, after[i].Ref, o.Path, want.Digest)
		}
	}
}

// digestLine is a line a kustomize entry without a digest field gains.
var digestLine = regexp.MustCompile(`^ *digest: sha256:[0-9a-f]{64}\r?$`)

// onlyLines compares a and b line by line and says where b differs from a
// other than on the lines of a in changed (0-based) or by a digest: line
// added after one of them; nil when it does not.
func onlyLines(a, b []byte, changed map[int]bool) error {
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	i, j := 0, 0
	for ; i < len(la) && j < len(lb); i, j = i+1, j+1 {
		if la[i] != lb[j] && !changed[i] {
			return fmt.Errorf("line %d changed, but holds no reference: %.120q became %.120q", i+1, la[i], lb[j])
		}
		if changed[i] {
			for j+1 < len(lb) && digestLine.MatchString(lb[j+1]) && (i+1 >= len(la) || lb[j+1] != la[i+1]) {
				j++
			}
		}
	}
	if len(la)-i != len(lb)-j {
		return fmt.Errorf("the rewrite added or lost lines after line %d", i)
	}
	return nil
}

// TestCorpusHelmSha: in kube-prometheus-stack's values, whose templates
// render REPOSITORY:TAG@sha256:{{ .sha }}, a digest rewrite fills each
// selected map's sha: "" with the hex of the new digest and leaves every
// tag alone (issue 21: the tag was rewritten as TAG@sha256:NEW).
func TestCorpusHelmSha(t *testing.T) {
	path := filepath.Join(corpusDir(t), "wild3", "kube-prometheus-stack-values.yaml")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("corpus file missing (set REBASEKIT_CORPUS to shared/corpus): %v", err)
	}
	w := &yamlwalk.Walker{Prefixes: []string{"quay.io", "ghcr.io", "docker.io"}}
	occs, err := w.Collect("kube-prometheus-stack-values.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	out := spliceAll(t, src, occs, fakeNew).Out
	la, lb := strings.Split(string(src), "\n"), strings.Split(string(out), "\n")
	if len(la) != len(lb) {
		t.Fatalf("%d lines before, %d after", len(la), len(lb))
	}
	filled := regexp.MustCompile(`^ *sha: "[0-9a-f]{64}"$`)
	shas := 0
	for i := range la {
		switch {
		case la[i] == lb[i]:
		case strings.TrimSpace(la[i]) == `sha: ""` && filled.MatchString(lb[i]):
			shas++
		default:
			t.Errorf("line %d: %q became %q; only sha fields may change", i+1, la[i], lb[i])
		}
	}
	if shas != 6 {
		t.Errorf("%d sha fields filled, want 6 (busybox, alertmanager, kube-webhook-certgen, thanos twice, prometheus)", shas)
	}
}
