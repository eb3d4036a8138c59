package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// needSkopeo skips without skopeo (fails under CI=true: .ci/run installs it).
func needSkopeo(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("skopeo")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("skopeo is missing (required when CI=true; .ci/run installs it)")
		}
		t.Skip("skopeo is missing; apt-get install skopeo to run this test")
	}
	return p
}

func skopeo(t *testing.T, ctx context.Context, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, "skopeo", append([]string{"--insecure-policy"}, args...)...)
	cmd.Env = append(os.Environ(), "REGISTRY_AUTH_FILE="+filepath.Join(t.TempDir(), "auth.json"))
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("skopeo %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return string(out)
}

// platformLayers is, per platform, an image's layer digests and diff_ids.
type platformLayers map[string][2][]v1.Hash

func layersOf(t *testing.T, idx v1.ImageIndex) platformLayers {
	t.Helper()
	descs, imgs := platformImages(t, idx)
	out := platformLayers{}
	for _, d := range descs {
		img := imgs[d.Platform.String()]
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		var ls []v1.Hash
		for _, l := range m.Layers {
			ls = append(ls, l.Digest)
		}
		out[d.Platform.String()] = [2][]v1.Hash{ls, cf.RootFS.DiffIDs}
	}
	return out
}

// blobFiles lists a layout's blobs/ and its index.json, with sizes.
func blobFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		m[p] = fmt.Sprint(fi.Size(), fi.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Air-gapped: an app and both its bases copied into one OCI layout with
// skopeo are rebased inside it, with the registry they came from stopped
// (no request can reach it); skopeo reads the result, it copies back to a
// registry and validates there, and per platform it has the layers and
// diff_ids of the same rebase done on the registry. A second run prints
// the same line and adds no file.
func TestLayoutAirGapped(t *testing.T) {
	need(t)
	needSkopeo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	reg, err := startRegistry(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer reg.stop()
	host := reg.Host
	put := func(ref string, idx v1.ImageIndex) {
		t.Helper()
		if err := remote.WriteIndex(mustRef(t, ref), idx, remote.WithContext(ctx)); err != nil {
			t.Fatal(err)
		}
	}
	v1b, err := rebasetest.BaseIndex("v1")
	if err != nil {
		t.Fatal(err)
	}
	v2b, err := rebasetest.BaseIndex("v2")
	if err != nil {
		t.Fatal(err)
	}
	put(host+"/base:v1", v1b)
	put(host+"/base:stable", v1b)
	app, err := rebasetest.KoApp(host+"/base:stable", v1b, "hello")
	if err != nil {
		t.Fatal(err)
	}
	put(host+"/apps/hello:v1", app)
	put(host+"/base:v2", v2b)
	put(host+"/base:stable", v2b)

	dir := filepath.Join(t.TempDir(), "images")
	for src, dst := range map[string]string{"apps/hello:v1": "app", "base:v1": "base-v1", "base:v2": "base-v2"} {
		skopeo(t, ctx, "copy", "--all", "--src-tls-verify=false", "docker://"+host+"/"+src, "oci:"+dir+":"+dst)
	}

	// Without the flags, the image's base.name is a ref.name of its layout:
	// dir2 has the base under its registry name (and the old base's
	// blobs), dir3 has the app alone.
	dir2, dir3 := filepath.Join(t.TempDir(), "named"), filepath.Join(t.TempDir(), "alone")
	skopeo(t, ctx, "copy", "--all", "--src-tls-verify=false", "docker://"+host+"/apps/hello:v1", "oci:"+dir2+":app")
	skopeo(t, ctx, "copy", "--all", "--src-tls-verify=false", "docker://"+host+"/base:v1", "oci:"+dir2+":base-v1")
	skopeo(t, ctx, "copy", "--all", "--src-tls-verify=false", "docker://"+host+"/base:stable", "oci:"+dir2+":"+host+"/base:stable")
	skopeo(t, ctx, "copy", "--all", "--src-tls-verify=false", "docker://"+host+"/apps/hello:v1", "oci:"+dir3+":app")

	// The same rebase on the registry, for comparison.
	code, regOut, errs := runStream(t, t.TempDir(), host+"/apps/hello:v1\n")
	if code != 0 {
		t.Fatalf("registry rebase: exit %d\n%s", code, errs)
	}
	want := layersOf(t, remoteIndex(t, strings.TrimSpace(regOut)))

	reg.stop()
	<-reg.Done()
	in := "oci:" + dir + ":app"
	args := []string{"--old-base", "oci:" + dir + ":base-v1", "--new-base", "oci:" + dir + ":base-v2", "--tag"}
	code, out, errs := runStream(t, t.TempDir(), in+"\n", args...)
	if code != 0 || !strings.HasPrefix(out, in+"@sha256:") || strings.Count(out, "\n") != 1 {
		t.Fatalf("layout rebase: exit %d, output %q\n%s", code, out, errs)
	}
	printed := strings.TrimPrefix(strings.TrimSpace(out), in+"@")

	raw := skopeo(t, ctx, "inspect", "--raw", in)
	sum := sha256.Sum256([]byte(raw))
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != printed {
		t.Errorf("skopeo inspect --raw %s has digest %s, the run printed %s", in, got, printed)
	}

	lp, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	h, err := v1.NewHash(printed)
	if err != nil {
		t.Fatal(err)
	}
	rebased, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	got, err := rebased.ImageIndex(h)
	if err != nil {
		t.Fatal(err)
	}
	if have := layersOf(t, got); fmt.Sprint(have) != fmt.Sprint(want) {
		t.Errorf("per platform layers and diff_ids:\n in the layout %v\n on the registry %v", have, want)
	}
	im, err := got.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range im.Manifests {
		img, err := got.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		_, nb := childOf(t, v2b, d.Platform.String())
		if m.Annotations[rebasetest.AnnotationBaseName] != host+"/base:stable" || m.Annotations[rebasetest.AnnotationBaseDigest] != nb.String() {
			t.Errorf("%s: base annotations %v, want base.name %s/base:stable (as the image had it) and base.digest %s", d.Platform, m.Annotations, host, nb)
		}
	}

	// By the annotations, in dir2: the same image.
	code, out2, errs := runStream(t, t.TempDir(), "oci:"+dir2+":app\n")
	if code != 0 || out2 != "oci:"+dir2+":app@"+printed+"\n" {
		t.Errorf("layout rebase by the annotations: exit %d, output %q, want the digest %s\n%s", code, out2, printed, errs)
	}
	// In dir3 the base is not there: the line is refused, no network.
	code, out3, errs := runStream(t, t.TempDir(), "oci:"+dir3+":app\n")
	wantErr := "its base " + host + "/base:stable (base.name) is not in the OCI layout " + dir3 + " under that ref.name: copy it in (skopeo copy --all docker://" + host + "/base:stable oci:" + dir3 + ":" + host + "/base:stable), or name the old and the new base in the layout, as oci:DIR:NAME"
	if code != 1 || out3 != "oci:"+dir3+":app\n" || !strings.Contains(errs, wantErr) {
		t.Errorf("layout without its base: exit %d, output %q, stderr %s\nwant %q", code, out3, errs, wantErr)
	}

	// A second run: the same line, nothing added.
	before := blobFiles(t, dir)
	code, again, errs := runStream(t, t.TempDir(), out, args...)
	if code != 0 || again != out {
		t.Errorf("second run: exit %d, output %q, want %q\n%s", code, again, out, errs)
	}
	if after := blobFiles(t, dir); !sameFiles(before, after) {
		t.Errorf("second run changed the layout:\n before %v\n after %v", before, after)
	}

	// Back to a registry: skopeo copies it, and it validates there.
	reg2, err := startRegistry(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer reg2.stop()
	dst := reg2.Host + "/apps/hello:rebased"
	skopeo(t, ctx, "copy", "--all", "--dest-tls-verify=false", in, "docker://"+dst)
	ridx, err := remote.Index(mustRef(t, dst), remote.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if d := digestOf(t, ridx); d.String() != printed {
		t.Errorf("copied back: %s, want %s", d, printed)
	}
	if err := validate.Index(ridx); err != nil {
		t.Errorf("validate %s: %v", dst, err)
	}
}

func sameFiles(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
