package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// containers is a private world for buildah and podman under one
// directory: its own storage (vfs, --root and --runroot), configuration
// (containers.conf, registries.conf marking the test registry insecure,
// storage.conf, a signature policy), credentials file and home, so that
// nothing reads or writes the user's. As root, containers/image keeps its
// blob-info cache in /var/lib/containers/cache whatever --root says: each
// command runs in a mount namespace of its own with a directory of the test
// bound on /var/lib, so that cache too is private, and shared by the
// test's commands as a user's are (buildah push mounts the base's layers,
// as pulled, from what the cache says; without it, it would compress them
// anew, into other blobs).
type containers struct {
	t             *testing.T
	ctx           context.Context
	dir           string
	env           []string
	root, runroot string
	policy        string
	cache         string // bound on /var/lib
}

// needContainers skips the test, or fails it under CI=true (.ci/run
// installs buildah and podman), when a tool it runs is missing.
func needContainers(t *testing.T) {
	t.Helper()
	need(t)
	var missing []string
	for _, tool := range []string{"buildah", "podman", "unshare", "chroot", "tar"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	why := ""
	switch {
	case len(missing) > 0:
		why = "missing " + strings.Join(missing, ", ") + " (apt-get install buildah podman; see .ci/run)"
	case os.Geteuid() != 0:
		why = "needs root: it runs the rebased image's binary with chroot, and buildah and podman in a mount namespace of their own"
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (required when CI=true)", why)
	}
	t.Skip(why)
}

func newContainers(t *testing.T, ctx context.Context) *containers {
	t.Helper()
	dir := t.TempDir()
	// podman build refuses a runroot longer than 50 characters.
	short, err := os.MkdirTemp("", "rk-run-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(short) })
	c := &containers{t: t, ctx: ctx, dir: dir,
		root: filepath.Join(dir, "storage"), runroot: short,
		policy: filepath.Join(dir, "policy.json"), cache: filepath.Join(dir, "varlib")}
	files := map[string]string{
		"policy.json":     `{"default":[{"type":"insecureAcceptAnything"}]}` + "\n",
		"registries.conf": fmt.Sprintf("unqualified-search-registries = []\n\n[[registry]]\nlocation = %q\ninsecure = true\n", suite.host),
		"storage.conf":    fmt.Sprintf("[storage]\ndriver = \"vfs\"\ngraphroot = %q\nrunroot = %q\n", c.root, c.runroot),
		"containers.conf": "[engine]\nevents_logger = \"none\"\n",
		"auth.json":       "{}\n",
	}
	for name, content := range files {
		writeFile(t, filepath.Join(dir, name), []byte(content))
	}
	for _, d := range []string{"home", "run", "tmp", "docker", "varlib"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	c.env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + filepath.Join(dir, "home"),
		"XDG_RUNTIME_DIR=" + filepath.Join(dir, "run"),
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "home", ".config"),
		"XDG_DATA_HOME=" + filepath.Join(dir, "home", ".local", "share"),
		"TMPDIR=" + filepath.Join(dir, "tmp"),
		"CONTAINERS_CONF=" + filepath.Join(dir, "containers.conf"),
		"CONTAINERS_REGISTRIES_CONF=" + filepath.Join(dir, "registries.conf"),
		"CONTAINERS_STORAGE_CONF=" + filepath.Join(dir, "storage.conf"),
		"REGISTRY_AUTH_FILE=" + filepath.Join(dir, "auth.json"),
		"DOCKER_CONFIG=" + filepath.Join(dir, "docker"),
		"BUILDAH_ISOLATION=chroot",
		"STORAGE_DRIVER=vfs",
	}
	return c
}

// run runs buildah or podman (tool) on the private storage and returns its
// stdout.
func (c *containers) run(tool string, args ...string) string {
	c.t.Helper()
	argv := append([]string{"--mount", "--propagation", "private", "--",
		"sh", "-c", `mount --bind "$0" /var/lib && exec "$@"`, c.cache,
		tool, "--root", c.root, "--runroot", c.runroot, "--storage-driver", "vfs"}, args...)
	cmd := exec.CommandContext(c.ctx, "unshare", argv...)
	cmd.Dir, cmd.Env = c.dir, c.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		c.t.Fatalf("%s %s: %v\n%s%s", tool, strings.Join(args, " "), err, stdout.Bytes(), stderr.Bytes())
	}
	return stdout.String()
}

// shell runs script with bash, as shell does (the three binaries first on
// PATH, KO_DOCKER_REPO the apps' repository), in dir, in the private world:
// for a README recipe that runs buildah or podman as printed. Only the
// recipe's flags reach them: the storage, configuration and cache are the
// world's through the environment (CONTAINERS_STORAGE_CONF and the others)
// and the mount namespace.
func (c *containers) shell(t *testing.T, dir, script string) pipe {
	t.Helper()
	cmd := exec.CommandContext(c.ctx, "unshare", "--mount", "--propagation", "private", "--",
		"sh", "-c", `mount --bind "$0" /var/lib && exec bash -c "set -o pipefail; $1"`, c.cache, script)
	return runPipe(t, cmd, dir, slices.Clone(c.env), script)
}

// probeSource is the program the Containerfile copies into the image: it
// says which base it runs on and as whom.
const probeSource = `package main

import (
	"fmt"
	"os"
	"strings"
)

func main() {
	b, err := os.ReadFile("/etc/base-release")
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Printf("base=%s uid=%d HOME=%s APP_MODE=%s PATH=%s\n", strings.TrimSpace(string(b)), os.Getuid(), os.Getenv("HOME"), os.Getenv("APP_MODE"), os.Getenv("PATH"))
}
`

// buildProbes builds the probe, static (CGO_ENABLED=0), for each
// architecture into dir as probe-ARCH.
func buildProbes(t *testing.T, ctx context.Context, dir string, arches ...string) {
	t.Helper()
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "go.mod"), []byte("module probe\n\ngo 1.26\n"))
	writeFile(t, filepath.Join(src, "main.go"), []byte(probeSource))
	for _, arch := range arches {
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", filepath.Join(dir, "probe-"+arch), ".")
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch, "GOWORK=off", "GOFLAGS=")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build probe for %s: %v\n%s", arch, err, out)
		}
	}
}

// The two versions of the base the buildah images are built on: v2 has
// other files (another base-release, a home directory in a layer of its
// own) and another config (User 65532, a longer PATH, HOME).
var buildahBaseConfigs = map[string]v1.Config{
	"v1": {Env: []string{"PATH=/usr/bin:/bin"}},
	"v2": {User: "65532", Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/home/nonroot"}},
}

// buildahBase is the base index at version for linux/amd64 and linux/arm64.
func buildahBase(version string) (v1.ImageIndex, error) {
	layers := []map[string]string{{"etc/base-release": version + "\n", "etc/os-release": "NAME=rebasekit-buildah-base\n"}}
	if version == "v2" {
		layers = append(layers, map[string]string{"home/nonroot/.profile": "# the nonroot user's home\n"})
	}
	created := v1.Time{Time: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range rebasetest.BaseIndexPlatforms {
		img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
		for i, files := range layers {
			l, err := rebasetest.Layer(files, types.OCILayer)
			if err != nil {
				return nil, err
			}
			if img, err = mutate.Append(img, mutate.Addendum{Layer: l, MediaType: types.OCILayer,
				History: v1.History{Created: created, CreatedBy: fmt.Sprintf("rkbase %s layer %d", version, i)}}); err != nil {
				return nil, err
			}
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture, cf.Created, cf.Config = p.OS, p.Architecture, created, buildahBaseConfigs[version]
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			return nil, err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{MediaType: types.OCIManifestSchema1, Platform: &p}})
	}
	return idx, nil
}

// containerfile is what a user of buildah or podman build writes: FROM the
// base tag, the app's binary, an ENV and an ENTRYPOINT of its own.
const containerfile = `ARG TARGETARCH
COPY probe-${TARGETARCH} /usr/local/bin/probe
ENV APP_MODE=production
ENTRYPOINT ["/usr/local/bin/probe"]
`

// TestBuildahImages rebases images buildah built (what podman build runs),
// single-platform and a two-platform manifest list, FROM a base tag on the
// real docker-registry, and the single one pushed again with an empty
// blob-info cache (its base layers compressed anew: other blobs, the same
// diff_ids); then checks them as podman and a user would:
// podman pulls every platform (containers/image verifies every digest and
// diff_id), the amd64 root file system, extracted, runs the image's binary
// with chroot as the config's user and environment and sees the new base,
// the config took the new base's User, PATH and HOME and kept the
// Containerfile's own ENV and ENTRYPOINT, and a second run changes nothing.
func TestBuildahImages(t *testing.T) {
	needContainers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c := newContainers(t, ctx)
	t.Logf("%s", strings.TrimSpace(c.run("buildah", "--version")))

	baseTag := suite.host + "/buildah/base:stable"
	bases := map[string]v1.ImageIndex{}
	for _, v := range []string{"v1", "v2"} {
		idx, err := buildahBase(v)
		if err != nil {
			t.Fatal(err)
		}
		bases[v] = idx
		if err := pushIndex(ctx, "buildah/base:"+v, idx); err != nil {
			t.Fatal(err)
		}
	}
	if err := pushIndex(ctx, "buildah/base:stable", bases["v1"]); err != nil {
		t.Fatal(err)
	}

	build := filepath.Join(c.dir, "build")
	buildProbes(t, ctx, build, "amd64", "arm64")
	writeFile(t, filepath.Join(build, "Containerfile"), []byte("FROM "+baseTag+"\n"+containerfile))
	common := []string{"--signature-policy", c.policy, "--tls-verify=false"}
	c.run("buildah", append(append([]string{"build", "-q"}, common...), "--platform", "linux/amd64", "-t", "localhost/rk-single", build)...)
	c.run("buildah", append(append([]string{"push", "-q"}, common...), "--digestfile", filepath.Join(c.dir, "single.digest"),
		"localhost/rk-single", "docker://"+suite.host+"/buildah/app:single")...)
	c.run("buildah", append(append([]string{"build", "-q"}, common...), "--platform", "linux/amd64,linux/arm64", "--manifest", "localhost/rk-multi", build)...)
	c.run("buildah", append(append([]string{"manifest", "push", "-q", "--all"}, common...), "--digestfile", filepath.Join(c.dir, "multi.digest"),
		"localhost/rk-multi", "docker://"+suite.host+"/buildah/app:multi")...)
	// The single image pushed again with an empty blob-info cache, as from
	// another machine or to another registry than the base's: buildah
	// compresses the base's layers anew, into other blobs.
	warm := c.cache
	c.cache = t.TempDir()
	c.run("buildah", append(append([]string{"push", "-q"}, common...), "--digestfile", filepath.Join(c.dir, "cold.digest"),
		"localhost/rk-single", "docker://"+suite.host+"/buildah/app:cold")...)
	c.cache = warm
	single := suite.host + "/buildah/app@" + strings.TrimSpace(readFile(t, filepath.Join(c.dir, "single.digest")))
	multi := suite.host + "/buildah/app@" + strings.TrimSpace(readFile(t, filepath.Join(c.dir, "multi.digest")))
	cold := suite.host + "/buildah/app@" + strings.TrimSpace(readFile(t, filepath.Join(c.dir, "cold.digest")))
	baseAmd64, _ := childOf(t, bases["v1"], "linux/amd64")
	bm, err := baseAmd64.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if l := platformManifests(t, ctx, single)["linux/amd64"].m.Layers[0].Digest; l != bm.Layers[0].Digest {
		t.Errorf("setup: buildah pushed the base's layer as %s with a warm cache, want the base's blob %s", l, bm.Layers[0].Digest)
	}
	if l := platformManifests(t, ctx, cold)["linux/amd64"].m.Layers[0].Digest; l == bm.Layers[0].Digest {
		t.Fatalf("setup: buildah pushed the base's blob %s with an empty cache: want it compressed anew", l)
	}
	olds := []string{single, multi, cold}

	// What buildah wrote: the base annotations on every platform manifest,
	// base.name the FROM line's tag, base.digest the base's manifest for
	// that platform (not the index).
	for _, ref := range olds {
		for p, pm := range platformManifests(t, ctx, ref) {
			m := pm.m
			_, want := childOf(t, bases["v1"], p)
			t.Logf("buildah wrote on %s (%s): base.name=%q base.digest=%q; index annotations: %v", ref, p, m.Annotations[rebasetest.AnnotationBaseName], m.Annotations[rebasetest.AnnotationBaseDigest], indexAnnotations(t, ctx, ref))
			if m.Annotations[rebasetest.AnnotationBaseName] != baseTag || m.Annotations[rebasetest.AnnotationBaseDigest] != want.String() {
				t.Fatalf("%s %s: buildah wrote annotations %v, want base.name %s and base.digest %s", ref, p, m.Annotations, baseTag, want)
			}
		}
	}

	// The base moves on.
	if err := pushIndex(ctx, "buildah/base:stable", bases["v2"]); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runStream(t, t.TempDir(), strings.Join(olds, "\n")+"\n", "-v")
	if code != 0 || summaryLine(errs) != "rebased 3, up to date 0, skipped 0, failed 0" {
		t.Fatalf("exit %d, summary %q; stderr %s", code, summaryLine(errs), errs)
	}
	rebased := strings.Fields(out)
	if len(rebased) != 3 || slices.ContainsFunc(olds, func(s string) bool { return slices.Contains(rebased, s) }) {
		t.Fatalf("output %q, want the three images rebased", out)
	}
	for _, want := range []string{`linux/amd64: config User (unset) -> "65532"`, `linux/arm64: config Env HOME (unset) -> "/home/nonroot"`} {
		if !strings.Contains(errs, want) {
			t.Errorf("-v does not list %q:\n%s", want, errs)
		}
	}

	wantEnv := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/home/nonroot", "APP_MODE=production"}
	for i, ref := range rebased {
		for p, pm := range platformManifests(t, ctx, ref) {
			what := fmt.Sprintf("%s (%s)", ref, p)
			m, digest := pm.m, pm.ref
			// podman pulls it: every blob digested, every diff_id checked.
			id := strings.TrimSpace(c.run("podman", "pull", "-q", "--signature-policy", c.policy, "--tls-verify=false", "--platform", p, digest))
			img := remoteImage(t, ctx, digest)
			cd, err := img.ConfigName()
			if err != nil {
				t.Fatal(err)
			}
			if id != cd.Hex {
				t.Errorf("%s: podman pulled image %s, want the config %s", what, id, cd.Hex)
			}
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if cf.Config.User != "65532" || !slices.Equal(cf.Config.Env, wantEnv) ||
				!slices.Equal(cf.Config.Entrypoint, []string{"/usr/local/bin/probe"}) || cf.Config.Labels["io.buildah.version"] == "" {
				t.Errorf("%s: config %+v, want User 65532, Env %q, the Containerfile's ENTRYPOINT and buildah's label", what, cf.Config, wantEnv)
			}
			_, newBase := childOf(t, bases["v2"], p)
			if m.Annotations[rebasetest.AnnotationBaseDigest] != newBase.String() {
				t.Errorf("%s: base.digest %s, want the new base's %s", what, m.Annotations[rebasetest.AnnotationBaseDigest], newBase)
			}
			if p != "linux/amd64" {
				continue // this machine cannot run arm64: its config and podman's pull are checked
			}
			if got, want := runProbe(t, ctx, img), "base=v2 uid=65532 HOME=/home/nonroot APP_MODE=production PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"; got != want {
				t.Errorf("%s: the image's binary says %q, want %q", what, got, want)
			}
			// The image before the rebase, for comparison: the old base, as root.
			old := olds[i]
			if got, want := runProbe(t, ctx, remoteImage(t, ctx, platformManifests(t, ctx, old)[p].ref)), "base=v1 uid=0 HOME= APP_MODE=production PATH=/usr/bin:/bin"; got != want {
				t.Errorf("%s before the rebase: the binary says %q, want %q", old, got, want)
			}
		}
	}

	// A second run: up to date, the same lines.
	code, again, errs := runStream(t, t.TempDir(), out)
	if code != 0 || again != out || summaryLine(errs) != "rebased 0, up to date 3, skipped 0, failed 0" {
		t.Errorf("second run: exit %d, output %q (want %q), summary %q", code, again, out, summaryLine(errs))
	}
}

// platformManifest is one platform image of a reference: its manifest and
// where it is by digest.
type platformManifest struct {
	ref string
	m   *v1.Manifest
}

// platformManifests maps each platform ("linux/amd64") of ref, an index or
// a single image, to its manifest.
func platformManifests(t *testing.T, ctx context.Context, ref string) map[string]platformManifest {
	t.Helper()
	r := mustRef(t, ref)
	d, err := remote.Get(r, remote.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]platformManifest{}
	if !d.MediaType.IsIndex() {
		img, err := d.Image()
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		out[cf.OS+"/"+cf.Architecture] = platformManifest{r.Context().Digest(d.Digest.String()).String(), m}
		return out
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(d.Manifest))
	if err != nil {
		t.Fatal(err)
	}
	for _, desc := range im.Manifests {
		child := r.Context().Digest(desc.Digest.String())
		img, err := remote.Image(child, remote.WithContext(ctx))
		if err != nil {
			t.Fatal(err)
		}
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		out[desc.Platform.OS+"/"+desc.Platform.Architecture] = platformManifest{child.String(), m}
	}
	return out
}

func indexAnnotations(t *testing.T, ctx context.Context, ref string) map[string]string {
	t.Helper()
	d, err := remote.Get(mustRef(t, ref), remote.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if !d.MediaType.IsIndex() {
		return nil
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(d.Manifest))
	if err != nil {
		t.Fatal(err)
	}
	return im.Annotations
}

func remoteImage(t *testing.T, ctx context.Context, ref string) v1.Image {
	t.Helper()
	img, err := remote.Image(mustRef(t, ref), remote.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// childOf is the base's image for platform p ("linux/arm64") and its digest.
func childOf(t *testing.T, idx v1.ImageIndex, p string) (v1.Image, v1.Hash) {
	t.Helper()
	plat, err := v1.ParsePlatform(p)
	if err != nil {
		t.Fatal(err)
	}
	img, d, err := rebasetest.Child(idx, *plat)
	if err != nil {
		t.Fatal(err)
	}
	return img, d
}

// runProbe extracts img's root file system (crane export's flattening,
// mutate.Extract) and runs its binary in it with chroot, as the config's
// User and with its Env, as a runtime would; it returns what it printed.
func runProbe(t *testing.T, ctx context.Context, img v1.Image) string {
	t.Helper()
	root := t.TempDir()
	rc := mutate.Extract(img)
	defer rc.Close()
	tar := exec.CommandContext(ctx, "tar", "-x", "-C", root)
	tar.Stdin = rc
	if out, err := tar.CombinedOutput(); err != nil {
		t.Fatalf("tar -x: %v\n%s", err, out)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{root}
	if u := cf.Config.User; u != "" {
		args = []string{"--userspec=" + u + ":" + u, root}
	}
	cmd := exec.CommandContext(ctx, "chroot", append(args, cf.Config.Entrypoint...)...)
	cmd.Env = cf.Config.Env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("chroot %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestLayerCacheBaseDigest: with their layer cache (podman build's default,
// buildah build --layers), podman 4.3 and buildah 1.28 record in base.digest
// a cached intermediate image of their own, which no registry has: the
// rebase fails, naming the old base it cannot find, and echoes the line.
// The README's buildah/podman recipe says to build with --layers=false.
func TestLayerCacheBaseDigest(t *testing.T) {
	needContainers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := newContainers(t, ctx)
	base, err := buildahBase("v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := pushIndex(ctx, "layercache/base:stable", base); err != nil {
		t.Fatal(err)
	}
	_, child := childOf(t, base, "linux/amd64")
	build := filepath.Join(c.dir, "build")
	buildProbes(t, ctx, build, "amd64")
	writeFile(t, filepath.Join(build, "Containerfile"), []byte("FROM "+suite.host+"/layercache/base:stable\n"+containerfile))
	common := []string{"--signature-policy", c.policy, "--tls-verify=false"}
	var apps []string
	for _, b := range []struct{ tool, flag string }{{"podman", ""}, {"buildah", "--layers"}} {
		args := append([]string{"build", "-q"}, common...)
		if b.flag != "" {
			args = append(args, b.flag)
		}
		c.run(b.tool, append(args, "--platform", "linux/amd64", "-t", "localhost/cached-"+b.tool, build)...)
		digestFile := filepath.Join(c.dir, b.tool+".digest")
		c.run(b.tool, append(append([]string{"push", "-q"}, common...), "--digestfile", digestFile, "localhost/cached-"+b.tool, "docker://"+suite.host+"/layercache/"+b.tool+":v1")...)
		app := suite.host + "/layercache/" + b.tool + "@" + strings.TrimSpace(readFile(t, digestFile))
		apps = append(apps, app)
		got := platformManifests(t, ctx, app)["linux/amd64"].m.Annotations[rebasetest.AnnotationBaseDigest]
		t.Logf("%s build %s wrote base.digest %s; the base's linux/amd64 manifest is %s", b.tool, b.flag, got, child)
		if got == child.String() {
			t.Errorf("%s build %s recorded the base's own digest: the layer cache no longer misnames it (update the README recipe)", b.tool, b.flag)
			continue
		}
		code, out, errs := runStream(t, t.TempDir(), app+"\n")
		want := app + ": error: old base " + suite.host + "/layercache/base@" + got + " not found"
		if code != 1 || out != app+"\n" || !strings.Contains(errs, want) {
			t.Errorf("%s build %s: exit %d, output %q; stderr %s\nwant exit 1, the line echoed, and %q", b.tool, b.flag, code, out, errs, want)
		}
	}
	// Saying which base they were built on rebases them.
	v2, err := buildahBase("v2")
	if err != nil {
		t.Fatal(err)
	}
	if err := pushIndex(ctx, "layercache/base:stable", v2); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runStream(t, t.TempDir(), strings.Join(apps, "\n")+"\n",
		"--old-base", suite.host+"/layercache/base@"+child.String(), "--new-base", suite.host+"/layercache/base:stable")
	if code != 0 || summaryLine(errs) != "rebased 2, up to date 0, skipped 0, failed 0" {
		t.Errorf("with --old-base and --new-base: exit %d, output %q, summary %q; stderr %s", code, out, summaryLine(errs), errs)
	}
	for _, ref := range strings.Fields(out) {
		if err := rebasetest.Verify(ctx, ref); err != nil {
			t.Error(err)
		}
	}
}
