package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// TestMakeImage builds the toolkit's own images with `make image` (ko and
// .ko.yaml) into the local registry on a local base, pulls each binary out
// of its image and runs it, then rebases those images with those very
// binaries when the base moves: the toolkit keeping itself current.
func TestMakeImage(t *testing.T) {
	need(t)
	ctx := context.Background()
	tools := []string{"ko-extract", "crane-rebase-stream", "ko-rewrite"}
	const version = "v0.0.0-image-test"
	baseV1, err := pushBase(ctx, "toolkit/base", "v1")
	if err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command("make", "image", "KO="+suite.ko, "VERSION="+version)
	cmd.Dir = suite.root
	cmd.Env = append(os.Environ(),
		"KO_DOCKER_REPO="+suite.host+"/toolkit",
		"KO_DEFAULTBASEIMAGE="+suite.host+"/toolkit/base:stable",
		"KO_CONFIG_PATH=", // the checkout's .ko.yaml
	)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("make image: %v\n%s", err, stderr)
	}
	refs := map[string]string{}
	var yaml strings.Builder
	for _, tool := range tools {
		ref := regexp.MustCompile(regexp.QuoteMeta(suite.host+"/toolkit/"+tool) + `(:[\w.-]+)?@sha256:[0-9a-f]{64}`).FindString(string(out))
		if ref == "" {
			t.Fatalf("make image printed no reference for %s:\n%s", tool, out)
		}
		refs[tool] = ref
		yaml.WriteString("- name: " + tool + "\n  image: " + ref + "\n")
	}

	// The binaries, pulled out of the images for this machine's platform.
	bin := t.TempDir()
	platform := "linux/" + runtime.GOARCH
	for _, tool := range tools {
		_, imgs := platformImages(t, remoteIndex(t, refs[tool]))
		img, ok := imgs[platform]
		if !ok {
			t.Fatalf("%s: no %s image in %s", tool, platform, refs[tool])
		}
		files := flatten(t, img)
		if files["etc/base-release"] != "v1\n" {
			t.Errorf("%s: /etc/base-release = %q, want the local base v1", tool, files["etc/base-release"])
		}
		b, ok := files["ko-app/"+tool]
		if !ok {
			t.Fatalf("%s: no /ko-app/%s in the image", tool, tool)
		}
		if err := os.WriteFile(filepath.Join(bin, tool), []byte(b), 0o755); err != nil {
			t.Fatal(err)
		}
		got, err := exec.Command(filepath.Join(bin, tool), "--version").Output()
		if err != nil || string(got) != tool+" version "+version+"\n" {
			t.Errorf("/ko-app/%s --version from the image: %q %v", tool, got, err)
		}
	}

	// The base moves; the toolkit rebases its own images.
	baseV2, err := pushBase(ctx, "toolkit/base", "v2")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "toolkit.yaml"), []byte(yaml.String()))
	sh := exec.Command("bash", "-c", "set -o pipefail; ko-extract -f toolkit.yaml | crane-rebase-stream - | ko-rewrite -f toolkit.yaml --images - -i")
	sh.Dir = dir
	sh.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "KO_DOCKER_REPO="+suite.host+"/toolkit")
	combined, err := sh.CombinedOutput()
	if err != nil {
		t.Fatalf("the pipeline with the image's binaries: %v\n%s", err, combined)
	}
	if s := summaryLine(string(combined)); s != "rebased 3, up to date 0, skipped 0, failed 0" {
		t.Errorf("summary %q:\n%s", s, combined)
	}
	rebased := readFile(t, filepath.Join(dir, "toolkit.yaml"))
	for _, tool := range tools {
		m := regexp.MustCompile(regexp.QuoteMeta(suite.host+"/toolkit/"+tool) + `(:[\w.-]+)?@sha256:[0-9a-f]{64}`).FindString(rebased)
		if m == "" || m == refs[tool] {
			t.Errorf("%s: not rewritten in toolkit.yaml:\n%s", tool, rebased)
			continue
		}
		checkRebased(t, tool, refs[tool], m, baseV1, baseV2)
	}
}
