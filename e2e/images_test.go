package e2e

import (
	"bytes"
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// pipe is the result of one bash pipeline.
type pipe struct {
	stdout, stderr string
	code           int
}

// shell runs script under `bash -c 'set -o pipefail; ...'` in dir, with the
// three binaries first on PATH and KO_DOCKER_REPO set to the apps' repository,
// the way a user's release job runs it.
func shell(t *testing.T, dir, script string) pipe {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", "set -o pipefail; "+script)
	return runPipe(t, cmd, dir, os.Environ(), script)
}

// runPipe runs cmd (a shell running script) in dir with env, the three
// binaries first on PATH and KO_DOCKER_REPO set to the apps' repository,
// and returns what it printed and its status.
func runPipe(t *testing.T, cmd *exec.Cmd, dir string, env []string, script string) pipe {
	t.Helper()
	cmd.Dir = dir
	cmd.Env = append(env,
		"PATH="+suite.bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"KO_DOCKER_REPO="+suite.host+"/apps",
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	p := pipe{stdout: stdout.String(), stderr: stderr.String()}
	if err != nil {
		exit, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("bash: %v", err)
		}
		p.code = exit.ExitCode()
	}
	t.Logf("$ %s\nexit %d\nstderr:\n%s", script, p.code, p.stderr)
	return p
}

// summaryLine returns crane-rebase-stream's summary, the last stderr line of
// the form "[crane-rebase-stream: ]rebased N, ...", without the prefix.
func summaryLine(stderr string) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimPrefix(strings.TrimSpace(lines[i]), "crane-rebase-stream: ")
		if strings.HasPrefix(l, "rebased ") {
			return l
		}
	}
	return ""
}

// onlyRefsChanged checks that after is before with every occurrence of each
// old reference replaced by its new one, and not one other byte changed.
func onlyRefsChanged(t *testing.T, before, after []byte, replaced map[string]string) {
	t.Helper()
	var pairs []string
	for old, new := range replaced {
		if !bytes.Contains(before, []byte(old)) {
			t.Errorf("%s is not in the input", old)
		}
		if bytes.Contains(after, []byte(old)) {
			t.Errorf("%s is still in the output", old)
		}
		if strings.Count(string(before), old) != strings.Count(string(after), new) {
			t.Errorf("%s occurs %d times, %s %d times", old, strings.Count(string(before), old), new, strings.Count(string(after), new))
		}
		pairs = append(pairs, old, new)
	}
	want := strings.NewReplacer(pairs...).Replace(string(before))
	if want != string(after) {
		t.Errorf("the output differs from the input outside the reference spans:\n--- want\n%s\n--- got\n%s", want, after)
	}
}

// platformImages returns idx's children by platform string, in index order.
func platformImages(t *testing.T, idx v1.ImageIndex) ([]v1.Descriptor, map[string]v1.Image) {
	t.Helper()
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	imgs := map[string]v1.Image{}
	for _, d := range im.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		imgs[d.Platform.String()] = img
	}
	return im.Manifests, imgs
}

func remoteIndex(t *testing.T, ref string) v1.ImageIndex {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(r, remote.WithContext(context.Background()))
	if err != nil {
		t.Fatalf("%s: %v", ref, err)
	}
	return idx
}

func digestOf(t *testing.T, x interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	d, err := x.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func layerDigests(t *testing.T, img v1.Image) []string {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	var ds []string
	for _, l := range m.Layers {
		ds = append(ds, l.Digest.String())
	}
	return ds
}

// checkRebased checks, through the registry API, that newRef is oldRef
// (built by ko on baseV1) moved onto baseV2, platform by platform, and that
// nothing else about the image changed.
func checkRebased(t *testing.T, app, oldRef, newRef string, baseV1, baseV2 v1.ImageIndex) {
	t.Helper()
	oldIdx, newIdx := remoteIndex(t, oldRef), remoteIndex(t, newRef)
	oldIM, _ := oldIdx.IndexManifest()
	newIM, _ := newIdx.IndexManifest()
	if newIM.MediaType != oldIM.MediaType {
		t.Errorf("%s: index media type %s, was %s", app, newIM.MediaType, oldIM.MediaType)
	}

	// The index: base.digest moves to the new base index (ko wrote the digest
	// of its own annotated copy of base v1, which no registry holds);
	// every other annotation stays.
	v2Digest := digestOf(t, baseV2)
	if got := newIM.Annotations[rebasetest.AnnotationBaseDigest]; got != v2Digest.String() {
		t.Errorf("%s: index base.digest = %s, want base:v2 %s", app, got, v2Digest)
	}
	wantAnn := maps.Clone(oldIM.Annotations)
	wantAnn[rebasetest.AnnotationBaseDigest] = v2Digest.String()
	if !maps.Equal(newIM.Annotations, wantAnn) {
		t.Errorf("%s: index annotations %v, want %v", app, newIM.Annotations, wantAnn)
	}

	oldDescs, oldImgs := platformImages(t, oldIdx)
	newDescs, newImgs := platformImages(t, newIdx)
	_, v1Imgs := platformImages(t, baseV1)
	v2Descs, v2Imgs := platformImages(t, baseV2)
	v2ChildDigest := map[string]string{}
	for _, d := range v2Descs {
		v2ChildDigest[d.Platform.String()] = d.Digest.String()
	}
	if len(newDescs) != len(oldDescs) {
		t.Fatalf("%s: %d platforms, was %d", app, len(newDescs), len(oldDescs))
	}
	for i := range oldDescs {
		od, nd := oldDescs[i], newDescs[i]
		p := od.Platform.String()
		if nd.Platform.String() != p || nd.MediaType != od.MediaType {
			t.Errorf("%s: child %d is %s %s, was %s %s", app, i, nd.Platform, nd.MediaType, p, od.MediaType)
			continue
		}
		if nd.Digest == od.Digest {
			t.Errorf("%s %s: child not rebased", app, p)
			continue
		}
		checkPlatform(t, app+" "+p, oldImgs[p], newImgs[p], v1Imgs[p], v2Imgs[p], v2ChildDigest[p])
		if !t.Failed() {
			checkFiles(t, app, p, oldImgs[p], newImgs[p])
		}
	}
}

// checkPlatform checks one platform image: layers, config and annotations.
func checkPlatform(t *testing.T, what string, old, new, oldBase, newBase v1.Image, newBaseDigest string) {
	t.Helper()
	oldLayers, newLayers := layerDigests(t, old), layerDigests(t, new)
	oldBaseLayers, newBaseLayers := layerDigests(t, oldBase), layerDigests(t, newBase)
	if len(oldLayers) <= len(oldBaseLayers) || strings.Join(oldLayers[:len(oldBaseLayers)], " ") != strings.Join(oldBaseLayers, " ") {
		t.Fatalf("%s: setup: ko did not build on base v1: layers %v, base %v", what, oldLayers, oldBaseLayers)
	}
	appLayers := oldLayers[len(oldBaseLayers):]
	want := append(append([]string{}, newBaseLayers...), appLayers...)
	if strings.Join(newLayers, " ") != strings.Join(want, " ") {
		t.Errorf("%s: layers\n got %v\nwant %v (new base + app)", what, newLayers, want)
	}

	om, _ := old.Manifest()
	nm, _ := new.Manifest()
	if nm.MediaType != om.MediaType || nm.Config.MediaType != om.Config.MediaType {
		t.Errorf("%s: media types %s/%s, were %s/%s", what, nm.MediaType, nm.Config.MediaType, om.MediaType, om.Config.MediaType)
	}
	nbm, _ := newBase.Manifest()
	for i := range nm.Layers {
		var want types.MediaType
		if i < len(newBaseLayers) {
			want = nbm.Layers[i].MediaType
		} else if j := len(oldBaseLayers) + i - len(newBaseLayers); j < len(om.Layers) {
			want = om.Layers[j].MediaType
		}
		if nm.Layers[i].MediaType != want {
			t.Errorf("%s: layer %d media type %s, want %s", what, i, nm.Layers[i].MediaType, want)
		}
	}
	wantAnn := maps.Clone(om.Annotations)
	wantAnn[rebasetest.AnnotationBaseDigest] = newBaseDigest
	if !maps.Equal(nm.Annotations, wantAnn) {
		t.Errorf("%s: annotations %v, want %v (base.digest = the new base's platform manifest)", what, nm.Annotations, wantAnn)
	}

	oc, _ := old.ConfigFile()
	nc, _ := new.ConfigFile()
	obc, _ := oldBase.ConfigFile()
	nbc, _ := newBase.ConfigFile()
	wantDiffIDs := append(append([]v1.Hash{}, nbc.RootFS.DiffIDs...), oc.RootFS.DiffIDs[len(obc.RootFS.DiffIDs):]...)
	if !equalHashes(nc.RootFS.DiffIDs, wantDiffIDs) {
		t.Errorf("%s: diff_ids %v, want %v", what, nc.RootFS.DiffIDs, wantDiffIDs)
	}
	wantHist := append(append([]v1.History{}, nbc.History...), oc.History[len(obc.History):]...)
	if len(nc.History) != len(wantHist) {
		t.Errorf("%s: %d history entries, want %d", what, len(nc.History), len(wantHist))
	} else {
		for i := range wantHist {
			if nc.History[i].CreatedBy != wantHist[i].CreatedBy || nc.History[i].EmptyLayer != wantHist[i].EmptyLayer {
				t.Errorf("%s: history[%d] = %+v, want %+v", what, i, nc.History[i], wantHist[i])
			}
		}
	}
	if nc.OS != oc.OS || nc.Architecture != oc.Architecture || nc.Variant != oc.Variant {
		t.Errorf("%s: config platform %s/%s/%s, was %s/%s/%s", what, nc.OS, nc.Architecture, nc.Variant, oc.OS, oc.Architecture, oc.Variant)
	}
	if strings.Join(nc.Config.Entrypoint, " ") != strings.Join(oc.Config.Entrypoint, " ") ||
		strings.Join(nc.Config.Env, " ") != strings.Join(oc.Config.Env, " ") ||
		nc.Config.User != oc.Config.User || !nc.Created.Equal(oc.Created.Time) {
		t.Errorf("%s: image config changed:\n got %+v\nwant %+v", what, nc.Config, oc.Config)
	}
}

func equalHashes(a, b []v1.Hash) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// checkFiles flattens the rebased image like `crane export` and checks what
// runs: the new base's files and the very same app binary, which it runs
// when the platform is the host's.
func checkFiles(t *testing.T, app, platform string, old, new v1.Image) {
	t.Helper()
	bin := "ko-app/" + app
	files := flatten(t, new)
	oldFiles := flatten(t, old)
	if got := files["etc/base-release"]; got != "v2\n" {
		t.Errorf("%s %s: /etc/base-release = %q, want v2 (was %q)", app, platform, got, oldFiles["etc/base-release"])
	}
	if got, want := files["etc/base-arch"], platform+"\n"; got != want {
		t.Errorf("%s %s: /etc/base-arch = %q, want %q (the new base of the image's own platform)", app, platform, got, want)
	}
	binary := files[bin]
	if !strings.HasPrefix(binary, "\x7fELF") || binary != oldFiles[bin] {
		t.Errorf("%s %s: /%s is %d bytes, was %d: want the same Go binary", app, platform, bin, len(binary), len(oldFiles[bin]))
		return
	}
	if platform != "linux/"+runtime.GOARCH || runtime.GOOS != "linux" || app != "hello" {
		return
	}
	path := filepath.Join(t.TempDir(), app)
	if err := os.WriteFile(path, []byte(binary), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(path, "e2e").CombinedOutput()
	if err != nil || string(out) != "hello, e2e\n" {
		t.Errorf("running /%s from the rebased image: %q, %v", bin, out, err)
	}
}

// flatten returns img's flattened file system (like `crane export`).
func flatten(t *testing.T, img v1.Image) map[string]string {
	t.Helper()
	files, err := rebasetest.ImageFiles(img)
	if err != nil {
		t.Fatal(err)
	}
	return files
}
