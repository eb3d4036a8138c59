package yamlwalk_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/rebasekit/rebasekit/pkg/pipeline"
	"github.com/rebasekit/rebasekit/pkg/refs"
	"github.com/rebasekit/rebasekit/pkg/rewrite"
	"github.com/rebasekit/rebasekit/pkg/yamlwalk"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// cases: each testdata/walk input, and the shared corpus, with the prefixes
// it is walked with.
type goldenCase struct {
	name     string
	input    string
	prefixes []string
	official bool // Walker.OfficialImages, as for --prefix (not $KO_DOCKER_REPO)
}

const (
	tektonRepo  = "gcr.io/tekton-releases/github.com/tektoncd/pipeline/cmd"
	knativeRepo = "gcr.io/knative-releases/knative.dev/serving/cmd"
)

// walkPrefixes are the prefixes each testdata/walk input is walked with.
var walkPrefixes = map[string][]string{
	"prefix":           {"gcr.io/a"},
	"split-prefix":     {"docker.io/bitnami", "ghcr.io/acme"},
	"kustomization":    {"ghcr.io/acme", "docker.io/library", "gcr.io/kubeflow-images-public"},
	"bare-repository":  {"ghcr.io/acme"},
	"prefix-official":  {"mariadb"},
	"split-sha":        {"quay.io/prometheus", "docker.io/grafana"},
	"hostport":         {"docker.io/library"},
	"prefix-namespace": {"docker.io/alice"},
	"split-sha-digest": {"ghcr.io/acme"},
}

// walkOfficial are the testdata/walk inputs walked with OfficialImages, as
// prefixes a user names; the others as $KO_DOCKER_REPO, a namespace.
var walkOfficial = map[string]bool{"prefix-official": true}

func cases(t *testing.T) []goldenCase {
	ins, err := filepath.Glob("../../testdata/walk/*.yaml")
	if err != nil || len(ins) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	var cs []goldenCase
	for _, in := range ins {
		name := strings.TrimSuffix(filepath.Base(in), ".yaml")
		prefixes := walkPrefixes[name]
		cs = append(cs, goldenCase{name: "walk/" + name, input: in, prefixes: prefixes, official: walkOfficial[name]})
	}
	corpus := []goldenCase{
		{name: "corpus/tekton-release", input: "tekton-release.yaml"},
		{name: "corpus/tekton-release.prefix", input: "tekton-release.yaml", prefixes: []string{tektonRepo}},
		{name: "corpus/knative-release", input: "knative-release.yaml"},
		{name: "corpus/knative-release.prefix", input: "knative-release.yaml", prefixes: []string{knativeRepo}},
		{name: "corpus/argocd-install", input: "argocd-install.yaml"},
		// Split references (see the corpus README for what each file holds).
		{name: "corpus/helm-argo-cd-values", input: "helm-argo-cd-values.yaml"},
		{name: "corpus/helm-argo-cd-values.prefix", input: "helm-argo-cd-values.yaml", prefixes: []string{"quay.io/argoproj", "ghcr.io/dexidp", "ecr-public.aws.com/docker/library", "docker.io/library"}},
		{name: "corpus/helm-cert-manager-values.prefix", input: "helm-cert-manager-values.yaml", prefixes: []string{"quay.io/jetstack"}},
		{name: "corpus/helm-grafana-values.prefix", input: "helm-grafana-values.yaml", prefixes: []string{"docker.io/grafana", "quay.io/kiwigrid", "docker.io/library"}},
		{name: "corpus/helm-bitnami-postgresql-values", input: "helm-bitnami-postgresql-values.yaml"},
		{name: "corpus/helm-bitnami-postgresql-values.prefix", input: "helm-bitnami-postgresql-values.yaml", prefixes: []string{"docker.io/bitnami"}},
		{name: "corpus/helm-ingress-nginx-values", input: "helm-ingress-nginx-values.yaml"},
		{name: "corpus/helmrelease-bjw-s-karakeep", input: "helmrelease-bjw-s-karakeep.yaml"},
		{name: "corpus/helmrelease-bjw-s-manyfold", input: "helmrelease-bjw-s-manyfold.yaml"},
		{name: "corpus/helmrelease-bjw-s-manyfold.prefix", input: "helmrelease-bjw-s-manyfold.yaml", prefixes: []string{"docker.io/library", "ghcr.io/bjw-s-labs"}},
		{name: "corpus/kubeflow-profiles", input: "kustomize/kubeflow-profiles/kustomization.yaml"},
		{name: "corpus/kubeflow-profiles.prefix", input: "kustomize/kubeflow-profiles/kustomization.yaml", prefixes: []string{"gcr.io/kubeflow-images-public"}},
		{name: "corpus/kubeflow-pipeline-dev.prefix", input: "kustomize/kubeflow-pipeline-dev/kustomization.yaml", prefixes: []string{"ghcr.io/kubeflow"}},
		{name: "corpus/kustomize-example-images", input: "kustomize/kustomize-example-images/kustomization.yaml"},
		{name: "corpus/kustomize-example-images.prefix", input: "kustomize/kustomize-example-images/kustomization.yaml", prefixes: []string{"docker.io"}},
		{name: "corpus/flux-weather-kustomization", input: "flux-weather-kustomization.yaml"},
		{name: "corpus/argocd-image-updater-sample", input: "argocd-image-updater-sample.yaml"},
		{name: "corpus/argocd-image-updater-sample.prefix", input: "argocd-image-updater-sample.yaml", prefixes: []string{"docker.io/library", "ghcr.io"}},
	}
	for _, c := range corpus {
		c.input = filepath.Join(corpusDir(t), c.input)
		if _, err := os.Stat(c.input); err != nil {
			// A skip, not a log line: make test lists it.
			why := fmt.Sprintf("corpus file missing: %v", err)
			if _, err := os.Stat(corpusDir(t)); err != nil {
				why = fmt.Sprintf("no corpus at %s: put it at ../shared/corpus beside the checkout or set REBASEKIT_CORPUS", corpusDir(t))
			}
			t.Run(c.name, func(t *testing.T) { t.Skip(why) })
			continue
		}
		cs = append(cs, c)
	}
	return cs
}

// corpusDir is ../shared/corpus beside the repository (see shared/corpus/README.md).
func corpusDir(_ testing.TB) string {
	if d := os.Getenv("REBASEKIT_CORPUS"); d != "" {
		return d
	}
	return "../../../shared/corpus"
}

// fakeNew is a deterministic replacement: the same repository and tag,
// pinned to a digest made from the old reference.
func fakeNew(old string) string {
	r, _ := refs.Parse(old)
	sum := sha256.Sum256([]byte(old))
	r.Digest = "sha256:" + hex.EncodeToString(sum[:])
	return r.String()
}

func describe(occs []*yamlwalk.Occurrence, warnings []string) []byte {
	var b bytes.Buffer
	for _, o := range occs {
		fmt.Fprintf(&b, "%d:%d doc=%d %s %s %s", o.Line, o.Column, o.Doc, o.Rule, o.Path, o.Ref)
		if o.Marker != "" {
			fmt.Fprintf(&b, " marker=%s", o.Marker)
		}
		b.WriteByte('\n')
	}
	for _, w := range warnings {
		fmt.Fprintf(&b, "warning: %s\n", strings.ReplaceAll(w, corpusPrefix(), ""))
	}
	return b.Bytes()
}

func corpusPrefix() string { return "../../../shared/corpus/" }

func TestGolden(t *testing.T) {
	for _, c := range cases(t) {
		t.Run(c.name, func(t *testing.T) {
			src, err := os.ReadFile(c.input)
			if err != nil {
				t.Fatal(err)
			}
			var warnings []string
			w := &yamlwalk.Walker{Prefixes: c.prefixes, OfficialImages: c.official, Warn: func(m string) { warnings = append(warnings, m) }}
			occs, docStarts, err := w.CollectDocs(filepath.Base(c.input), src)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, filepath.Join("../../testdata", c.name+".refs"), describe(occs, warnings))

			// Spans hold exactly the reference text (markers, split: their parts).
			for _, o := range occs {
				if o.Parts != nil {
					for _, p := range o.Parts {
						if got := string(src[p.Span.Start:p.Span.End]); got != p.Text {
							t.Errorf("%d:%d marker part %s: span holds %q, want %q", o.Line, o.Column, p.Field, got, p.Text)
						}
					}
					continue
				}
				if got := string(src[o.Span.Start:o.Span.End]); got != o.Ref {
					t.Errorf("%d:%d: span holds %q, want %q", o.Line, o.Column, got, o.Ref)
				}
			}

			// Identity rewrite is byte-identical.
			if s := spliceAll(t, src, occs, identity); !bytes.Equal(s.Out, src) || s.Changed() {
				t.Fatalf("identity rewrite changed the input")
			}

			// A real rewrite changes only the bytes inside the spans, and
			// re-walking it finds the replacements in the same places.
			s := spliceAll(t, src, occs, fakeNew)
			if err := rewrite.Verify(w, filepath.Base(c.input), s, occs, docStarts); err != nil {
				t.Fatal(err)
			}
			// The per-document check agrees with a walk of the whole output.
			if err := rewrite.Verify(w, filepath.Base(c.input), s, occs, nil); err != nil {
				t.Fatal(err)
			}
			out := s.Out
			after, err := w.Collect(filepath.Base(c.input), out)
			if err != nil {
				t.Fatal(err)
			}
			gapsEqual(t, src, spans(occs), out, spans(after))
			if strings.HasPrefix(c.name, "walk/") && (strings.Contains(c.name, "split") || strings.Contains(c.name, "kustomiz")) {
				// Split references are also rewritten by hand-written
				// replacements (another digest; a tagless one).
				checkGolden(t, filepath.Join("../../testdata", c.name+".rewritten2"), spliceAll(t, src, occs, tagless).Out)
			}
			if !strings.HasPrefix(c.name, "corpus/") {
				checkGolden(t, filepath.Join("../../testdata", c.name+".rewritten"), out)
			} else {
				// The corpus is big: pin the changed lines by count.
				uniq := len(pipeline.Unique(occs))
				n, added := changedLines(src, out)
				msg := fmt.Sprintf("%d lines changed, %d occurrences, %d unique\n", n, len(occs), uniq)
				if added > 0 {
					msg = fmt.Sprintf("%d lines changed, %d added, %d occurrences, %d unique\n", n, added, len(occs), uniq)
				}
				checkGolden(t, filepath.Join("../../testdata", c.name+".changed"), []byte(msg))
			}
		})
	}
}

// spliceAll replaces every unique reference in occs by newRef(ref) (the
// NEW form of the images stream, as ko-rewrite reads it) and returns the
// splice.
func spliceAll(tb testing.TB, src []byte, occs []*yamlwalk.Occurrence, newRef func(string) string) *rewrite.Spliced {
	tb.Helper()
	img := &rewrite.Images{}
	for _, o := range pipeline.Unique(occs) {
		img.Lines = append(img.Lines, rewrite.Line{New: newRef(o.Ref)})
	}
	plan, err := rewrite.Plan(occs, img, false)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := rewrite.Splice(src, occs, plan)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func identity(ref string) string { return ref }

// tagless is a replacement without a tag, as `repo@sha256:D`: a split
// reference keeps its tag.
func tagless(old string) string {
	r, _ := refs.Parse(fakeNew(old))
	r.Tag = ""
	return r.String()
}

// span is a span and, for an empty part, the Lead a value written there
// takes before it.
type span struct {
	yamlwalk.Span
	lead string
}

func spans(occs []*yamlwalk.Occurrence) []span {
	var s []span
	for _, o := range occs {
		if o.Parts != nil {
			for _, p := range o.Parts {
				s = append(s, span{p.Span, p.Lead})
			}
			continue
		}
		s = append(s, span{Span: o.Span})
	}
	sort.Slice(s, func(i, j int) bool { return s[i].Start < s[j].Start })
	return s
}

// gapsEqual checks that the bytes between the spans are the same in a and b
// (a gap before an empty part that got a value gained its Lead).
func gapsEqual(t *testing.T, a []byte, sa []span, b []byte, sb []span) {
	t.Helper()
	if len(sa) != len(sb) {
		t.Fatalf("%d spans before, %d after", len(sa), len(sb))
	}
	pa, pb := 0, 0
	for i := range sa {
		want := a[pa:sa[i].Start]
		if sa[i].Start == sa[i].End && sb[i].Start < sb[i].End {
			want = append(append([]byte(nil), want...), sa[i].lead...)
		}
		if !bytes.Equal(want, b[pb:sb[i].Start]) {
			t.Fatalf("bytes before span %d differ: %q vs %q", i, want, b[pb:sb[i].Start])
		}
		pa, pb = sa[i].End, sb[i].End
	}
	if !bytes.Equal(a[pa:], b[pb:]) {
		t.Fatalf("bytes after the last span differ")
	}
}

// changedLines counts the lines of b that differ from a's and the lines b
// adds (a kustomize entry's new digest line), reading both in step.
func changedLines(a, b []byte) (changed, added int) {
	la, lb := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	i, j := 0, 0
	for ; i < len(la) && j < len(lb); i, j = i+1, j+1 {
		if bytes.Equal(la[i], lb[j]) {
			continue
		}
		if len(lb)-j > len(la)-i && j+1 < len(lb) && bytes.Equal(la[i], lb[j+1]) {
			added++
			i--
			continue
		}
		changed++
	}
	return changed, added + len(lb) - j - (len(la) - i)
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
