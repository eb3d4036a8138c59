package e2e

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSplitReferencePipeline rebases images written in parts, the way GitOps
// repositories keep them: a Helm values file with a Bitnami-style digest
// field, and a kustomization whose images: entry has only a tag (the digest
// goes onto a new line). The real binaries as a shell pipeline, the real
// docker-registry; a second run changes nothing.
func TestSplitReferencePipeline(t *testing.T) {
	need(t)
	dir := t.TempDir()
	hello, greeter := suite.apps["hello"], suite.apps["greeter"]
	helloDigest := hello[strings.Index(hello, "@")+1:]
	values := "# Helm values\nimage:\n  registry: " + suite.host + "\n  repository: apps/hello # the app\n  tag: latest\n  digest: \"" + helloDigest + "\"\n  pullPolicy: IfNotPresent\n"
	kust := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- deployment.yaml\nimages:\n- name: greeter\n  newName: " + suite.host + "/apps/greeter\n  newTag: latest # pinned by the rebase\n"
	for name, text := range map[string]string{"values.yaml": values, "kustomization.yaml": kust} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	p := shell(t, dir, "ko-extract -f .")
	helloRef := suite.host + "/apps/hello:latest@" + helloDigest
	greeterRef := suite.host + "/apps/greeter:latest"
	if p.code != 0 || p.stdout != greeterRef+"\n"+helloRef+"\n" {
		t.Fatalf("ko-extract printed %q (exit %d), want the kustomization's greeter, then the values' hello", p.stdout, p.code)
	}

	p = shell(t, dir, "ko-extract -f . | crane-rebase-stream - | tee images.txt | ko-rewrite -f . --images - -i")
	if p.code != 0 {
		t.Fatalf("pipeline exit %d", p.code)
	}
	if got := summaryLine(p.stderr); got != "rebased 2, up to date 0, skipped 0, failed 0" {
		t.Errorf("summary %q", got)
	}
	images, err := os.ReadFile(filepath.Join(dir, "images.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(images), "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], greeterRef+"@sha256:") || !strings.HasPrefix(lines[1], suite.host+"/apps/hello:latest@sha256:") || lines[1] == helloRef {
		t.Fatalf("crane-rebase-stream printed %q", images)
	}
	newGreeter, newHello := lines[0][strings.Index(lines[0], "@")+1:], lines[1][strings.Index(lines[1], "@")+1:]

	// Only the digests were written, each where the issue says.
	wantValues := strings.Replace(values, helloDigest, newHello, 1)
	wantKust := strings.Replace(kust, "# pinned by the rebase\n", "# pinned by the rebase\n  digest: "+newGreeter+"\n", 1)
	for name, want := range map[string]string{"values.yaml": wantValues, "kustomization.yaml": wantKust} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("%s:\n%s\nwant:\n%s", name, got, want)
		}
	}
	t.Run("hello", func(t *testing.T) {
		checkRebased(t, "hello", hello, suite.host+"/apps/hello@"+newHello, suite.baseV1, suite.baseV2)
	})
	t.Run("greeter", func(t *testing.T) {
		checkRebased(t, "greeter", greeter, suite.host+"/apps/greeter@"+newGreeter, suite.baseV1, suite.baseV2)
	})

	t.Run("second run is a no-op", func(t *testing.T) {
		files, err := suite.reg.snapshot()
		if err != nil {
			t.Fatal(err)
		}
		p := shell(t, dir, "ko-extract -f . | crane-rebase-stream - | ko-rewrite -f . --images - -i")
		if p.code != 0 {
			t.Fatalf("pipeline exit %d", p.code)
		}
		if got := summaryLine(p.stderr); got != "rebased 0, up to date 2, skipped 0, failed 0" {
			t.Errorf("summary %q", got)
		}
		if !strings.Contains(p.stderr, "ko-rewrite: 0 of 2 file(s) changed") {
			t.Errorf("ko-rewrite changed files on the second run")
		}
		for name, want := range map[string]string{"values.yaml": wantValues, "kustomization.yaml": wantKust} {
			if got, _ := os.ReadFile(filepath.Join(dir, name)); string(got) != want {
				t.Errorf("second run changed %s:\n%s", name, got)
			}
		}
		files2, err := suite.reg.snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(files, files2) {
			t.Errorf("second run wrote to the registry storage: %s", snapshotDiff(files, files2))
		}
	})
}
