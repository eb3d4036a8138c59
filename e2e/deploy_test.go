package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// engine is one of deploy/'s job engines: its file, what it must say, and
// how it tells a shard which one it is.
type engine struct {
	name, file string
	says       []string             // what the file must hold
	shardEnv   func(i int) []string // the variables the engine gives shard i
}

var engines = []engine{
	{"kubernetes", "deploy/kubernetes/rebasekit-cronjob.yaml",
		[]string{"kind: CronJob", "completionMode: Indexed", "completions: 4", "sh deploy/scripts/rebase-shard.sh deploy/", "sh deploy/scripts/rebase-join.sh deploy/", `value: "4"`},
		func(i int) []string { return []string{fmt.Sprintf("JOB_COMPLETION_INDEX=%d", i)} }},
	{"tekton", "deploy/tekton/rebasekit.yaml",
		[]string{"kind: Pipeline", "matrix:", `value: ["0", "1", "2", "3"]`, "value: $(params.shard)", "sh deploy/scripts/rebase-shard.sh deploy/", "sh deploy/scripts/rebase-join.sh deploy/"},
		func(i int) []string { return []string{fmt.Sprintf("SHARD=%d", i)} }},
	{"github", "deploy/github/rebasekit.yml",
		[]string{"matrix:", "shard: [0, 1, 2, 3]", "SHARD: ${{ matrix.shard }}", "needs: shard", `SHARDS: "4"`, "sh deploy/scripts/rebase-shard.sh deploy/", "sh deploy/scripts/rebase-join.sh deploy/"},
		func(i int) []string { return []string{fmt.Sprintf("SHARD=%d", i)} }},
}

const deployShards = 4

// Each engine's recipe, run as its engine would: four shard processes at
// once, each in its own clone of the manifests repository, handing their
// pairs over in a shared directory, then the join in another clone, which
// commits and pushes. The pushed tree is byte-identical to the one a
// single-process pipeline writes.
func TestDeployShardsJoin(t *testing.T) {
	need(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	files := deployTree(t, ctx)

	// The single-process run.
	top := t.TempDir()
	remote := filepath.Join(top, "remote.git")
	seedRepo(t, top, remote, files)
	single := filepath.Join(top, "single")
	git(t, top, "clone", "-q", remote, single)
	if p := shell(t, single, "ko-extract -R -f deploy/ | crane-rebase-stream - | ko-rewrite -R -f deploy/ --images - -i"); p.code != 0 {
		t.Fatalf("single run: exit %d", p.code)
	}
	want := treeFiles(t, filepath.Join(single, "deploy"))
	if bytes.Equal([]byte(want["release.yaml"]), []byte(files["deploy/release.yaml"])) {
		t.Fatal("the single run changed nothing: nothing to compare")
	}

	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(suite.root, e.file))
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range e.says {
				if !strings.Contains(string(b), s) {
					t.Errorf("%s does not say %q", e.file, s)
				}
			}
			checkYAML(t, e.file, b)

			top := t.TempDir()
			remote := filepath.Join(top, "remote.git")
			seedRepo(t, top, remote, files)
			pairs := filepath.Join(top, "pairs")
			var wg sync.WaitGroup
			codes := make([]int, deployShards)
			for i := range deployShards {
				dir := filepath.Join(top, fmt.Sprint("shard", i))
				git(t, top, "clone", "-q", remote, dir)
				wg.Add(1)
				go func() {
					defer wg.Done()
					codes[i] = runScript(ctx, dir, append(e.shardEnv(i), "SHARDS=4", "PAIRS_DIR="+pairs), "deploy/scripts/rebase-shard.sh")
				}()
			}
			wg.Wait()
			for i, c := range codes {
				if c != 0 {
					t.Fatalf("shard %d: exit %d", i, c)
				}
			}
			join := filepath.Join(top, "join")
			git(t, top, "clone", "-q", remote, join)
			git(t, join, "config", "user.name", "rebase bot")
			git(t, join, "config", "user.email", "bot@example.com")
			if c := runScript(ctx, join, []string{"SHARDS=4", "PAIRS_DIR=" + pairs, "PUSH=1"}, "deploy/scripts/rebase-join.sh"); c != 0 {
				t.Fatalf("join: exit %d", c)
			}
			if n := git(t, remote, "rev-list", "--count", "main"); n != "2" {
				t.Errorf("remote has %s commits, want 2 (the manifests, the rebase)", n)
			}
			check := filepath.Join(top, "check")
			git(t, top, "clone", "-q", remote, check)
			got := treeFiles(t, filepath.Join(check, "deploy"))
			for f, w := range want {
				if got[f] != w {
					t.Errorf("%s: pushed by the shards and join:\n%s\nwant (the single run's):\n%s", f, got[f], w)
				}
			}
			if len(got) != len(want) {
				t.Errorf("%d files pushed under deploy/, want %d", len(got), len(want))
			}
			// A shard missing: the join refuses and writes nothing.
			os.Remove(filepath.Join(pairs, "pairs-2.txt"))
			again := filepath.Join(top, "again")
			git(t, top, "clone", "-q", remote, again)
			if c := runScript(ctx, again, []string{"SHARDS=4", "PAIRS_DIR=" + pairs}, "deploy/scripts/rebase-join.sh"); c != 1 {
				t.Errorf("join with a shard missing: exit %d, want 1", c)
			}
		})
	}
}

// deployTree is the manifests repository's content: the suite's ko release,
// six apps of a base of their own (moved since they were built) and the two
// scripts.
func deployTree(t *testing.T, ctx context.Context) map[string]string {
	t.Helper()
	ref := func(s string) string { return suite.host + "/apps/fanout/" + s }
	if _, err := rebasetest.PushBase(ctx, ref("base:v1"), rebasetest.BaseSpec{Version: "v1"}); err != nil {
		t.Fatal(err)
	}
	if err := rebasetest.Tag(ctx, ref("base:v1"), ref("base:stable")); err != nil {
		t.Fatal(err)
	}
	var jobs strings.Builder
	for i := range 6 {
		d, err := rebasetest.PushApp(ctx, ref(fmt.Sprintf("app%d:v1", i)), rebasetest.AppSpec{Base: ref("base:stable"), Name: fmt.Sprint("fan", i)})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&jobs, "---\nimage: %s\n", ref(fmt.Sprintf("app%d@%s", i, d)))
	}
	if _, err := rebasetest.PushBase(ctx, ref("base:v2"), rebasetest.BaseSpec{Version: "v2"}); err != nil {
		t.Fatal(err)
	}
	if err := rebasetest.Tag(ctx, ref("base:v2"), ref("base:stable")); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"deploy/release.yaml":     string(suite.release),
		"deploy/jobs/fanout.yaml": jobs.String(),
	}
	for _, s := range []string{"rebase-shard.sh", "rebase-join.sh"} {
		b, err := os.ReadFile(filepath.Join(suite.root, "deploy", "scripts", s))
		if err != nil {
			t.Fatal(err)
		}
		files["deploy/scripts/"+s] = string(b)
	}
	return files
}

// seedRepo makes remote, a bare repository whose main holds files.
func seedRepo(t *testing.T, top, remote string, files map[string]string) {
	t.Helper()
	work, err := os.MkdirTemp(top, "seed")
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		writeFile(t, filepath.Join(work, name), []byte(content))
	}
	commitAndPush(t, top, work, remote)
}

// runScript runs `sh SCRIPT deploy/` in dir as an engine's step does: the
// binaries on PATH, KO_DOCKER_REPO set, env added; it returns the exit
// status and logs the output.
func runScript(ctx context.Context, dir string, env []string, script string) int {
	cmd := exec.CommandContext(ctx, "sh", script, "deploy/")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"PATH="+suite.bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"KO_DOCKER_REPO="+suite.host+"/apps",
	)
	cmd.Env = append(cmd.Env, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	code := 0
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		code = -1
	}
	if code != 0 || testing.Verbose() {
		fmt.Fprintf(os.Stderr, "$ %v sh %s (in %s): exit %d\n%s", env, script, filepath.Base(dir), code, out.String())
	}
	return code
}

// treeFiles is every file under dir, by path relative to it.
func treeFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		m[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// checkYAML parses every document of a deploy file.
func checkYAML(t *testing.T, file string, b []byte) {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(b))
	n := 0
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: document %d: %v", file, n+1, err)
		}
		n++
	}
	if n == 0 {
		t.Errorf("%s: no YAML document", file)
	}
}
