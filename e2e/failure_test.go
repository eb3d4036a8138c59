package e2e

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// TestFailedRebaseLeavesRefUnchanged runs the pipeline with pipefail on a
// release holding the two good ko apps and two images that cannot be rebased:
//   - svc, whose new base lost its linux/arm64 manifest (deleted from the
//     registry after base:stable moved), so one platform cannot be rebased;
//   - liar, whose annotations name base:stable v1 but whose layers were built
//     on another base, so its layers do not start with the old base.
//
// The pipeline must fail, and the YAML must still come out whole: the good
// refs rebased, the two failed refs unchanged, every other byte identical.
func TestFailedRebaseLeavesRefUnchanged(t *testing.T) {
	need(t)
	ctx := context.Background()

	// svc on flaky/base, whose v2 then loses its arm64 child.
	flakyV1, err := pushBase(ctx, "flaky/base", "v1")
	if err != nil {
		t.Fatal(err)
	}
	svc, err := rebasetest.KoApp(suite.host+"/flaky/base:stable", flakyV1, "svc")
	if err != nil {
		t.Fatal(err)
	}
	if err := pushIndex(ctx, "apps/svc:latest", svc); err != nil {
		t.Fatal(err)
	}
	flakyV2, err := pushBase(ctx, "flaky/base", "v2")
	if err != nil {
		t.Fatal(err)
	}
	v2Descs, _ := platformImages(t, flakyV2)
	if err := suite.reg.deleteManifest(ctx, "flaky/base", v2Descs[1].Digest); err != nil {
		t.Fatal(err)
	}

	// liar: built on "other", labelled as built on base:stable v1.
	other, err := rebasetest.BaseIndex("other")
	if err != nil {
		t.Fatal(err)
	}
	liar, err := rebasetest.KoApp(suite.host+"/base:stable", other, "liar")
	if err != nil {
		t.Fatal(err)
	}
	liar = relabel(t, liar, suite.baseV1)
	if err := pushIndex(ctx, "apps/liar:latest", liar); err != nil {
		t.Fatal(err)
	}

	svcRef := suite.host + "/apps/svc@" + digestOf(t, svc).String()
	liarRef := suite.host + "/apps/liar@" + digestOf(t, liar).String()
	input := string(suite.release)
	if !strings.HasSuffix(input, "---\n") {
		input += "---\n"
	}
	input += `apiVersion: v1
kind: Pod
metadata:
  name: flaky
spec:
  containers:
    - name: svc
      image: ` + svcRef + `
    - name: liar
      image: "` + liarRef + `"
`
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "release.yaml"), []byte(input), 0o644); err != nil {
		t.Fatal(err)
	}
	before, err := suite.reg.apiState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	manifestsBefore := manifestFiles(t, "apps/svc", "apps/liar")

	p := shell(t, dir, "ko-extract -f release.yaml"+
		" | crane-rebase-stream --report report.json -"+
		" | ko-rewrite -f release.yaml --images - > rebased.yaml")
	if p.code != 1 {
		t.Errorf("pipeline exit %d, want 1 (pipefail: crane-rebase-stream failed lines)", p.code)
	}
	if got := summaryLine(p.stderr); got != "rebased 2, up to date 0, skipped 0, failed 2" {
		t.Errorf("summary %q", got)
	}
	for _, ref := range []string{svcRef, liarRef} {
		if !strings.Contains(p.stderr, ref+": ") {
			t.Errorf("stderr does not explain %s", ref)
		}
	}

	out, err := os.ReadFile(filepath.Join(dir, "rebased.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	newHello, err := findRef(out, suite.host+"/apps/hello")
	if err != nil {
		t.Fatal(err)
	}
	newGreeter, err := findRef(out, suite.host+"/apps/greeter")
	if err != nil {
		t.Fatal(err)
	}
	// svc and liar are not in the map: their bytes must not change at all.
	onlyRefsChanged(t, []byte(input), out, map[string]string{
		suite.apps["hello"]: newHello, suite.apps["greeter"]: newGreeter,
	})

	r := readReport(t, filepath.Join(dir, "report.json"))
	reasons := map[string]string{}
	for _, img := range r.Images {
		if img.Action == "failed" {
			reasons[img.Input] = img.Reason
			if img.Output != img.Input {
				t.Errorf("report: failed %s has output %s, want the input echoed", img.Input, img.Output)
			}
		}
	}
	if len(reasons) != 2 {
		t.Errorf("report: failed images %v, want svc and liar", reasons)
	}
	if reason := reasons[svcRef]; !strings.Contains(reason, "arm64") {
		t.Errorf("svc failed with %q, want the missing linux/arm64 named", reason)
	}
	if reason := reasons[liarRef]; !strings.Contains(reason, "layer") {
		t.Errorf("liar failed with %q, want the layer mismatch named", reason)
	}

	after, err := suite.reg.apiState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{"apps/svc:latest", "apps/liar:latest", "flaky/base:stable"} {
		if before[tag] != after[tag] {
			t.Errorf("%s moved from %s to %s", tag, before[tag], after[tag])
		}
	}
	// A failed image pushes no manifest, not even for the platforms that
	// could have been rebased.
	if m := manifestFiles(t, "apps/svc", "apps/liar"); !maps.Equal(m, manifestsBefore) {
		t.Errorf("manifests were written for failed images: %s", snapshotDiff(manifestsBefore, m))
	}
}

// manifestFiles is the part of the registry snapshot holding the manifests
// and tags of repos.
func manifestFiles(t *testing.T, repos ...string) map[string]string {
	t.Helper()
	all, err := suite.reg.snapshot()
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for k, v := range all {
		for _, repo := range repos {
			if strings.HasPrefix(k, "docker/registry/v2/repositories/"+repo+"/_manifests/") {
				m[k] = v
			}
		}
	}
	if len(m) == 0 {
		t.Fatalf("no manifests of %v in the registry storage: has its layout changed?", repos)
	}
	return m
}

// relabel gives every child of idx the base.digest of the same platform's
// child of base, as if it had been built on base.
func relabel(t *testing.T, idx, base v1.ImageIndex) v1.ImageIndex {
	t.Helper()
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	baseDescs, _ := platformImages(t, base)
	var adds []mutate.IndexAddendum
	for i, d := range im.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		img = mutate.Annotations(img, map[string]string{
			rebasetest.AnnotationBaseDigest: baseDescs[i].Digest.String(),
		}).(v1.Image)
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: d.Platform}})
	}
	out := mutate.Annotations(mutate.IndexMediaType(empty.Index, im.MediaType), im.Annotations).(v1.ImageIndex)
	plain, err := rebasetest.PlainIndex(mutate.AppendManifests(out, adds...))
	if err != nil {
		t.Fatal(err)
	}
	return plain
}

// TestRewriteRefusesBadStream feeds ko-rewrite -i image streams that do not
// match the file and checks it fails without touching it: same bytes, same
// modification time, same mode, no temporary file left beside it. The last
// case is the control: the whole stream rewrites the file in place.
func TestRewriteRefusesBadStream(t *testing.T) {
	need(t)
	stale := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		filter string // between crane-rebase-stream and ko-rewrite
		ok     bool
		msg    string // on ko-rewrite's stderr
	}{
		{"truncated", "head -n1", false, "streams are not aligned"},
		{"reordered", "tac", false, "an image in another repository"},
		// Cut inside the last line, just before its "@": what is left is a
		// valid reference in the right repository.
		{"cut mid-line", `sed '$ s/@.*//' | head -c -1`, false, "the stream ends without a newline, so this line may be cut off"},
		{"last digest lost", `sed '$ s/@.*//'`, false, "which drops its digest"},
		{"whole stream", "cat", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "release.yaml")
			if err := os.WriteFile(path, suite.release, 0o640); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, 0o640); err != nil { // no umask
				t.Fatal(err)
			}
			if err := os.Chtimes(path, stale, stale); err != nil {
				t.Fatal(err)
			}

			p := shell(t, dir, "ko-extract -f release.yaml"+
				" | crane-rebase-stream -"+
				" | "+tc.filter+
				" | ko-rewrite -i -f release.yaml --images -"+
				`; echo "PIPESTATUS ${PIPESTATUS[*]}"`)
			status := pipeStatus(t, p.stdout)
			if len(status) != 4+strings.Count(tc.filter, "|") {
				t.Fatalf("PIPESTATUS %v", status)
			}
			if rw := status[len(status)-1]; tc.ok != (rw == 0) {
				t.Fatalf("ko-rewrite exit %d (pipeline %v)\n%s", rw, status, p.stderr)
			}
			if !strings.Contains(p.stderr, tc.msg) {
				t.Errorf("stderr does not say %q:\n%s", tc.msg, p.stderr)
			}

			names, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(names) != 1 || names[0].Name() != "release.yaml" {
				t.Errorf("directory holds %v, want release.yaml alone", names)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o640 {
				t.Errorf("mode %v, want 0640 kept", fi.Mode().Perm())
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.ok {
				if string(got) != string(suite.release) {
					t.Errorf("file changed:\n%s", got)
				}
				if !fi.ModTime().Equal(stale) {
					t.Errorf("mtime %v, want %v: the file was rewritten", fi.ModTime(), stale)
				}
				return
			}
			newHello, err1 := findRef(got, suite.host+"/apps/hello")
			newGreeter, err2 := findRef(got, suite.host+"/apps/greeter")
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			onlyRefsChanged(t, suite.release, got, map[string]string{
				suite.apps["hello"]: newHello, suite.apps["greeter"]: newGreeter,
			})
		})
	}
}

// pipeStatus parses the "PIPESTATUS a b c" line a script printed.
func pipeStatus(t *testing.T, stdout string) []int {
	t.Helper()
	for _, line := range strings.Split(stdout, "\n") {
		if rest, ok := strings.CutPrefix(line, "PIPESTATUS "); ok {
			var s []int
			for _, f := range strings.Fields(rest) {
				n, err := strconv.Atoi(f)
				if err != nil {
					t.Fatalf("PIPESTATUS %q", rest)
				}
				s = append(s, n)
			}
			return s
		}
	}
	t.Fatalf("no PIPESTATUS in %q", stdout)
	return nil
}
