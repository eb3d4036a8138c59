package e2e

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/rebasekit/rebasekit/internal/hermetic"
	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// suite is what TestMain sets up once and every test shares: building the
// apps with ko is the slow part, so it happens once.
var suite struct {
	skip string // why the tests skip, or ""

	root string // the rebasekit module
	bin  string // ko-extract, crane-rebase-stream, ko-rewrite
	ko   string // the ko CLI

	reg  *registry
	host string // 127.0.0.1:PORT

	baseV1, baseV2 v1.ImageIndex // fixture bases; base:stable points at v2 when tests run
	// release is `ko resolve` output for testdata/apps/release.in.yaml,
	// built on base:stable when it pointed at v1.
	release []byte
	// apps maps each app to the reference ko resolved it to.
	apps map[string]string

	// shaped are apps ko built on bases of other shapes (media types, index
	// writers), each on its own base repository.
	shaped []shapedApp
}

// shapedApp is an app ko built on the fixture base of one shape.
type shapedApp struct {
	app            string
	shape          rebasetest.Shape
	ref            string        // ko build's output, on base v1
	baseV1, baseV2 v1.ImageIndex // base:stable points at v2 when tests run
}

// appNames are the apps under testdata/apps, in the order ko-extract lists them.
var appNames = []string{"hello", "greeter"}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	// Tests and every tool they run (ours, ko, cosign, git) see none of
	// the user's KO_DOCKER_REPO, docker config or COSIGN_PASSWORD.
	env, err := hermetic.Setup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(env)
	if testing.Short() {
		suite.skip = "end-to-end tests do not run with -short"
		return m.Run()
	}
	if missing := prerequisites(); missing != "" {
		if os.Getenv("CI") == "true" {
			fmt.Fprintf(os.Stderr, "e2e: FAIL: %s (required when CI=true; make tools installs it)\n", missing)
			return 1
		}
		suite.skip = missing + "; make tools installs it"
		return m.Run()
	}

	tmp, err := os.MkdirTemp("", "rebasekit-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	start := time.Now()
	err = setup(ctx, tmp)
	if suite.reg != nil {
		defer suite.reg.stop()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: setup:", err)
		return 1
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "e2e: setup took %s (registry %s)\n", time.Since(start).Round(time.Millisecond), suite.host)
	}
	return m.Run()
}

// prerequisites finds docker-registry and ko, or says which is missing.
func prerequisites() string {
	var missing []string
	if _, err := exec.LookPath("docker-registry"); err != nil {
		missing = append(missing, "docker-registry (apt-get install docker-registry)")
	}
	ko, err := exec.LookPath("ko")
	if err != nil {
		// go install puts it in GOPATH/bin, which is often not on PATH.
		if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
				if p := filepath.Join(dir, "bin", "ko"); isExecutable(p) {
					ko = p
					break
				}
			}
		}
	}
	if ko == "" {
		missing = append(missing, "ko (go install github.com/google/ko@v0.18.1)")
	}
	suite.ko = ko
	if len(missing) > 0 {
		return "missing " + strings.Join(missing, " and ")
	}
	return ""
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// setup starts the registry, pushes base:v1 as base:stable, builds the
// binaries and the ko apps on it, then publishes base:v2 and moves
// base:stable: the state a scheduled rebase job finds.
func setup(ctx context.Context, tmp string) error {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	suite.root = filepath.Dir(strings.TrimSpace(string(out)))
	suite.bin = filepath.Join(tmp, "bin")

	suite.reg, err = startRegistry(ctx, filepath.Join(tmp, "registry"))
	if err != nil {
		return err
	}
	suite.host = suite.reg.Host

	if suite.baseV1, err = pushBase(ctx, "base", "v1"); err != nil {
		return err
	}
	if suite.baseV2, err = rebasetest.BaseIndex("v2"); err != nil {
		return err
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		cmd := exec.CommandContext(gctx, "go", "build", "-trimpath", "-o", suite.bin+string(filepath.Separator),
			"./cmd/ko-extract", "./cmd/crane-rebase-stream", "./cmd/ko-rewrite")
		cmd.Dir = suite.root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %w\n%s", err, out)
		}
		return nil
	})
	g.Go(func() error {
		if err := koResolve(gctx); err != nil {
			return err
		}
		return koBuildShaped(gctx, tmp)
	})
	if err := g.Wait(); err != nil {
		return err
	}

	if _, err = pushBase(ctx, "base", "v2"); err != nil {
		return err
	}
	for i := range suite.shaped {
		s := &suite.shaped[i]
		if s.baseV2, err = pushBaseShaped(ctx, s.shape.String()+"/base", "v2", s.shape); err != nil {
			return err
		}
	}
	return nil
}

// koBuildShaped builds the apps legacy and tool with `ko build`, each on a
// base of another shape (Docker media types; an index written by
// go-containerregistry), chosen with ko's baseImageOverrides.
func koBuildShaped(ctx context.Context, tmp string) error {
	suite.shaped = []shapedApp{{app: "legacy", shape: rebasetest.Docker}, {app: "tool", shape: rebasetest.GGCR}}
	config := "baseImageOverrides:\n"
	for i := range suite.shaped {
		s := &suite.shaped[i]
		repo := s.shape.String() + "/base"
		var err error
		if s.baseV1, err = pushBaseShaped(ctx, repo, "v1", s.shape); err != nil {
			return err
		}
		config += fmt.Sprintf("  example.com/rkapps/%s: %s/%s:stable\n", s.app, suite.host, repo)
	}
	configDir := filepath.Join(tmp, "ko-config")
	if err := os.MkdirAll(configDir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(configDir, ".ko.yaml"), []byte(config), 0o644); err != nil {
		return err
	}
	out, err := ko(ctx, []string{"KO_CONFIG_PATH=" + configDir}, "build", "./legacy", "./tool")
	if err != nil {
		return err
	}
	for i := range suite.shaped {
		s := &suite.shaped[i]
		if s.ref, err = findRef(out, suite.host+"/apps/"+s.app); err != nil {
			return fmt.Errorf("ko build output: %w\n%s", err, out)
		}
	}
	return nil
}

// koResolve runs the real `ko resolve` on testdata/apps/release.in.yaml, which
// builds both apps for linux/amd64 and linux/arm64 on base:stable and pushes
// them under 127.0.0.1:PORT/apps.
func koResolve(ctx context.Context) error {
	out, err := ko(ctx, nil, "resolve", "-f", "release.in.yaml")
	if err != nil {
		return err
	}
	suite.release = out
	suite.apps = map[string]string{}
	for _, app := range appNames {
		ref, err := findRef(out, suite.host+"/apps/"+app)
		if err != nil {
			return fmt.Errorf("ko resolve output: %w\n%s", err, out)
		}
		suite.apps[app] = ref
	}
	return nil
}

// ko runs the ko CLI in testdata/apps for linux/amd64 and linux/arm64,
// pushing to 127.0.0.1:PORT/apps/<app> on base:stable unless configured
// otherwise, and returns its stdout.
func ko(ctx context.Context, env []string, args ...string) ([]byte, error) {
	args = append(args, "--platform=linux/amd64,linux/arm64", "--base-import-paths", "--sbom=none")
	cmd := exec.CommandContext(ctx, suite.ko, args...)
	cmd.Dir = filepath.Join(suite.root, "e2e", "testdata", "apps")
	cmd.Env = append(append(os.Environ(),
		"KO_DOCKER_REPO="+suite.host+"/apps",
		"KO_DEFAULTBASEIMAGE="+suite.host+"/base:stable",
		"GOWORK=off", // testdata/apps is a module of its own; ko adds -trimpath
		"CGO_ENABLED=0",
	), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("ko %s: %w\n%s", args[0], err, stderr.Bytes())
	}
	return out, nil
}

// need skips or fails the test when the suite could not be set up.
func need(t *testing.T) {
	t.Helper()
	if suite.skip != "" {
		t.Skip(suite.skip)
	}
}
