// Command demo is `make demo`: the whole rebasekit story on a machine that has
// nothing but Go, in a few seconds, with no network beyond loopback.
//
// It builds the three binaries, starts go-containerregistry's in-memory
// registry on 127.0.0.1, pushes a two-platform base image and three ko-style
// application images built on it, writes a release.yaml that references them
// the way `ko resolve` does, publishes a new base, and then runs the real
// pipeline through a shell:
//
//	ko-extract -f release.yaml | crane-rebase-stream - | ko-rewrite -f release.yaml --images - > rebased.yaml
//
// It prints the YAML diff and a table from crane-rebase-stream's --report,
// checks the result by reading files out of the rebased images, and leaves
// nothing running. Any failure exits 1.
package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	err := run(ctx, os.Stdout)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo: FAILED:", err)
		os.Exit(1)
	}
}

// apps are the three images of the demo release.
var apps = []string{"api", "worker", "migrate"}

func run(ctx context.Context, out io.Writer) error {
	start := time.Now()
	say := func(format string, args ...any) { fmt.Fprintf(out, "==> "+format+"\n", args...) }

	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "rebasekit-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "bin")

	say("building ko-extract, crane-rebase-stream, ko-rewrite")
	if err := buildTools(ctx, root, bin); err != nil {
		return err
	}

	// httptest.NewServer listens on 127.0.0.1:0; Close stops it and its
	// connections, so nothing outlives the demo.
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	say("in-memory registry listening on %s", host)

	v1Base, refs, err := pushApps(ctx, host, say)
	if err != nil {
		return err
	}
	work := filepath.Join(tmp, "work")
	if err := os.Mkdir(work, 0o755); err != nil {
		return err
	}
	release := releaseYAML(refs)
	if err := os.WriteFile(filepath.Join(work, "release.yaml"), []byte(release), 0o644); err != nil {
		return err
	}
	say("wrote release.yaml (Deployment image, ConfigMap value, flow-style args, plus nginx which is not ours)")

	v2Base, err := pushBase(ctx, host, "v2")
	if err != nil {
		return err
	}
	v2Digest, _ := v2Base.Digest()
	say("published %s/base:v2 = %s and moved base:stable to it", host, short(v2Digest.String()))

	env := append(os.Environ(),
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"KO_DOCKER_REPO="+host+"/apps",
	)
	say("KO_DOCKER_REPO=%s/apps", host)
	if err := runPipeline(ctx, out, work, env, say); err != nil {
		return err
	}
	if err := verify(ctx, out, release, work, host, refs, v1Base, v2Base); err != nil {
		return err
	}
	if err := runAgain(ctx, out, work, env, say); err != nil {
		return err
	}
	say("done in %s; registry stopped, temp files removed", time.Since(start).Round(time.Millisecond))
	return nil
}

// buildTools builds the three binaries into bin.
func buildTools(ctx context.Context, root, bin string) error {
	build := exec.CommandContext(ctx, "go", "build", "-o", bin+string(filepath.Separator),
		"./cmd/ko-extract", "./cmd/crane-rebase-stream", "./cmd/ko-rewrite")
	build.Dir = root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build: %w", err)
	}
	return nil
}

// pushApps pushes base v1 (tagged base:stable) and the ko-style apps built
// on it, and returns the base and each app's reference by digest.
func pushApps(ctx context.Context, host string, say func(string, ...any)) (v1.ImageIndex, map[string]string, error) {
	baseName := host + "/base:stable"
	v1Base, err := pushBase(ctx, host, "v1")
	if err != nil {
		return nil, nil, err
	}
	v1Digest, _ := v1Base.Digest()
	say("pushed %s/base:v1 (linux/amd64, linux/arm64) = %s, tagged base:stable", host, short(v1Digest.String()))

	refs := map[string]string{}
	for _, app := range apps {
		idx, err := rebasetest.KoApp(baseName, v1Base, app)
		if err != nil {
			return nil, nil, err
		}
		ref, err := name.ParseReference(host + "/apps/" + app + ":latest")
		if err != nil {
			return nil, nil, err
		}
		if err := remote.WriteIndex(ref, idx, remote.WithContext(ctx)); err != nil {
			return nil, nil, fmt.Errorf("push %s: %w", ref, err)
		}
		d, _ := idx.Digest()
		refs[app] = host + "/apps/" + app + "@" + d.String()
	}
	say("built %s on base:stable the way ko does, pushed by digest", strings.Join(apps, ", "))
	return v1Base, refs, nil
}

// runPipeline runs the pipeline in work and prints what it did: the
// summary, the YAML diff and the report's table.
func runPipeline(ctx context.Context, out io.Writer, work string, env []string, say func(string, ...any)) error {
	pipeline := "ko-extract -f release.yaml" +
		" | crane-rebase-stream --report report.json -" +
		" | ko-rewrite -f release.yaml --images - > rebased.yaml"
	say("%s", pipeline)
	t0 := time.Now()
	var stderr bytes.Buffer
	err := shell(ctx, work, env, pipeline, &stderr)
	elapsed := time.Since(t0)
	if err != nil {
		return fmt.Errorf("pipeline: %w\n%s", err, stderr.Bytes())
	}
	out.Write(stderr.Bytes()) // crane-rebase-stream's summary

	fmt.Fprintln(out)
	if err := printDiff(ctx, out, work, "release.yaml", "rebased.yaml"); err != nil {
		return err
	}
	fmt.Fprintln(out)
	rep, err := readReport(filepath.Join(work, "report.json"))
	if err != nil {
		return err
	}
	printTable(out, rep)
	fmt.Fprintf(out, "\npipeline took %s for %d images\n\n", elapsed.Round(time.Millisecond), len(rep.Images))
	return nil
}

// runAgain runs the pipeline on its own output: nothing may change.
func runAgain(ctx context.Context, out io.Writer, work string, env []string, say func(string, ...any)) error {
	say("running the pipeline again on rebased.yaml: nothing left to do")
	again := "ko-extract -f rebased.yaml | crane-rebase-stream - | ko-rewrite -f rebased.yaml --images - > again.yaml"
	var stderr bytes.Buffer
	err := shell(ctx, work, env, again, &stderr)
	out.Write(stderr.Bytes())
	if err != nil {
		return fmt.Errorf("second run: %w", err)
	}
	if err := sameFile(filepath.Join(work, "rebased.yaml"), filepath.Join(work, "again.yaml")); err != nil {
		return fmt.Errorf("second run: %w", err)
	}
	return nil
}

func pushBase(ctx context.Context, host, version string) (v1.ImageIndex, error) {
	idx, err := rebasetest.BaseIndex(version)
	if err != nil {
		return nil, err
	}
	for _, tag := range []string{version, "stable"} {
		ref, err := name.NewTag(host + "/base:" + tag)
		if err != nil {
			return nil, err
		}
		if err := remote.WriteIndex(ref, idx, remote.WithContext(ctx)); err != nil {
			return nil, fmt.Errorf("push %s: %w", ref, err)
		}
	}
	return idx, nil
}

// releaseYAML is what `ko resolve` would have written for a small release:
// our three images by digest in three different places, and one image that
// is someone else's and must be left alone.
func releaseYAML(refs map[string]string) string {
	return `# release.yaml, as written by ko resolve
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  template:
    spec:
      containers:
        - name: api
          image: ` + refs["api"] + `
          args: [ "-migrate-image", "` + refs["migrate"] + `", "-log-level", "info" ]
        - name: proxy
          image: docker.io/library/nginx:1.27   # not ours: left alone
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: config-deployment
data:
  # the worker image is started by the api at run time
  worker-image: "` + refs["worker"] + `"
  replicas: "3"
`
}

// shell runs script with bash and pipefail, the way a user's shell would.
// The scripts redirect their output to files; what they print goes to stderr.
func shell(ctx context.Context, dir string, env []string, script string, stderr io.Writer) error {
	cmd := exec.CommandContext(ctx, "bash", "-c", "set -o pipefail; "+script)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdout, cmd.Stderr = stderr, stderr
	return cmd.Run()
}

// moduleRoot finds the repository, so the demo works from any directory.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("run the demo inside the rebasekit module (make demo)")
	}
	return filepath.Dir(gomod), nil
}

// short abbreviates a digest for tables: sha256:0123456789ab.
func short(s string) string {
	if s == "" {
		return "-"
	}
	if i := strings.IndexByte(s, ':'); i >= 0 && len(s) > i+13 {
		return s[:i+13]
	}
	return s
}
