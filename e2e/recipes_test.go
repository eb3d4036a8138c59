package e2e

import (
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// recipe is one ```sh block of README.md's Recipes section and the bold
// title before it.
type recipe struct {
	title, script string
}

// readmeRecipes extracts the shell blocks of the Recipes section exactly as
// printed. A fenced block without a language there is an error: every shell
// block must be marked sh so that none escapes this test.
func readmeRecipes(t *testing.T) []recipe {
	return readmeBlocks(t, "Recipes")
}

// readmeBlocks extracts the shell blocks of README.md's section "## NAME",
// each with the bold title before it ("" before the first).
func readmeBlocks(t *testing.T, name string) []recipe {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(suite.root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	start := strings.Index(text, "\n## "+name+"\n")
	if start < 0 {
		t.Fatalf("README.md has no ## %s section", name)
	}
	section := text[start+1:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	var out []recipe
	title := ""
	lines := strings.Split(section, "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if m := regexp.MustCompile(`^\*\*([^*]+)\*\*`).FindStringSubmatch(l); m != nil {
			title = m[1]
		}
		if !strings.HasPrefix(l, "```") {
			continue
		}
		lang := strings.TrimPrefix(l, "```")
		var body []string
		for i++; i < len(lines) && lines[i] != "```"; i++ {
			body = append(body, lines[i])
		}
		switch lang {
		case "sh":
			out = append(out, recipe{title: title, script: strings.Join(body, "\n") + "\n"})
		case "yaml":
		default:
			t.Errorf("README %s, %q: a block marked %q; mark shell blocks sh (they run in this test) and YAML yaml", name, title, lang)
		}
	}
	return out
}

// TestReadmeRecipes runs every shell block of the README's Recipes section
// as printed, with KO_DOCKER_REPO set as the section says, each in a fresh
// directory holding what the recipe works on, and checks what a user would.
func TestReadmeRecipes(t *testing.T) {
	need(t)
	checks := map[string]func(t *testing.T, script string){
		"The GitOps loop":                           recipeGitOps,
		"Proposing the rebase as a pull request":    recipePR,
		"Preview":                                   recipePreview,
		"Only some images":                          recipeFilter,
		"Helm values with markers":                  recipeHelm,
		"A whole tree":                              recipeTree,
		"Images built without annotations":          recipeUnannotated,
		"Images built with buildah or podman build": (&podmanRecipe{}).check,
		"Trust before a rebase":                     recipeTrust,
		"Air-gapped: rebase inside an OCI layout":   (&layoutRecipe{}).check,
	}
	recipes := readmeRecipes(t)
	seen := map[string]bool{}
	for _, r := range recipes {
		check, ok := checks[r.title]
		if !ok {
			t.Errorf("README recipe %q has no check in recipes_test.go: add one", r.title)
			continue
		}
		seen[r.title] = true
		t.Run(r.title, func(t *testing.T) { check(t, r.script) })
	}
	for title := range checks {
		if !seen[title] {
			t.Errorf("recipe %q is checked here but has no sh block in README.md", title)
		}
	}
}

// newRef finds app's reference in text and checks it is not ko's original.
func newRef(t *testing.T, text, app string) string {
	t.Helper()
	m := regexp.MustCompile(regexp.QuoteMeta(suite.host+"/apps/"+app)+`@sha256:[0-9a-f]{64}`).FindAllString(text, -1)
	if len(m) == 0 {
		t.Fatalf("no %s reference in\n%s", app, text)
	}
	return m[0]
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func recipePreview(t *testing.T, script string) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "release.yaml"), suite.release)
	before, err := suite.reg.snapshot()
	if err != nil {
		t.Fatal(err)
	}
	p := shell(t, dir, script)
	if p.code != 1 {
		t.Fatalf("exit %d, want 1 (diff: there is something to rebase); stderr %s", p.code, p.stderr)
	}
	for _, app := range appNames {
		old := suite.apps[app]
		if !strings.Contains(p.stdout, "\n-") || !strings.Contains(p.stdout, old) {
			t.Errorf("the diff does not remove %s:\n%s", old, p.stdout)
		}
		if n := newRef(t, strings.ReplaceAll(p.stdout, old, ""), app); n == old {
			t.Errorf("%s not rebased in the diff", app)
		}
	}
	if regexp.MustCompile(`(?m)^[-+] .*nginx`).MatchString(p.stdout) {
		t.Errorf("the diff touches nginx:\n%s", p.stdout)
	}
	after, err := suite.reg.snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(before, after) {
		t.Errorf("the preview wrote to the registry: %s", snapshotDiff(before, after))
	}
	if got := readFile(t, filepath.Join(dir, "release.yaml")); got != string(suite.release) {
		t.Error("the preview changed release.yaml")
	}
}

func recipeFilter(t *testing.T, script string) {
	dir := t.TempDir()
	rel := filepath.Join(dir, "release.yaml")
	writeFile(t, rel, suite.release)
	p := shell(t, dir, "set -e\n"+script)
	if p.code != 0 {
		t.Fatalf("exit %d; stderr %s", p.code, p.stderr)
	}
	if got := readFile(t, filepath.Join(dir, "old.txt")); got != suite.apps["hello"]+"\n" {
		t.Errorf("old.txt = %q, want hello alone (greeter filtered out)", got)
	}
	got := readFile(t, rel)
	hello := newRef(t, readFile(t, filepath.Join(dir, "new.txt")), "hello")
	want := strings.ReplaceAll(string(suite.release), suite.apps["hello"], hello)
	if hello == suite.apps["hello"] || got != want {
		t.Errorf("release.yaml: want hello rebased to %s and nothing else changed (greeter kept):\n%s", hello, got)
	}
}

func recipeHelm(t *testing.T, script string) {
	dir := t.TempDir()
	// The README's values.yaml, pointed at the app ko pushed as hello:latest.
	values := "image:\n" +
		"  repository: " + suite.host + "/apps/hello" + ` # {"$rebase": "app:name"}` + "\n" +
		`  tag: latest                  # {"$rebase": "app:tag"}` + "\n"
	writeFile(t, filepath.Join(dir, "values.yaml"), []byte(values))
	p := shell(t, dir, script)
	if p.code != 0 {
		t.Fatalf("exit %d; stderr %s", p.code, p.stderr)
	}
	got := readFile(t, filepath.Join(dir, "values.yaml"))
	m := regexp.MustCompile(`(?m)^  tag: latest@(sha256:[0-9a-f]{64})                  # \{"\$rebase": "app:tag"\}$`).FindStringSubmatch(got)
	if m == nil || !strings.Contains(got, "  repository: "+suite.host+"/apps/hello"+` # {"$rebase": "app:name"}`+"\n") {
		t.Fatalf("values.yaml is not as the recipe's comment says (tag: TAG@sha256:<rebased digest>):\n%s", got)
	}
	if strings.HasSuffix(suite.apps["hello"], m[1]) {
		t.Errorf("the tag was pinned to ko's original digest, not a rebased one")
	}
}

func recipeTree(t *testing.T, script string) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "deploy", "release.yaml"), suite.release)
	sub := "image: " + suite.apps["greeter"] + "\n"
	writeFile(t, filepath.Join(dir, "deploy", "jobs", "greeter.yaml"), []byte(sub))
	p := shell(t, dir, script)
	if p.code != 0 {
		t.Fatalf("exit %d; stderr %s", p.code, p.stderr)
	}
	if s := summaryLine(p.stderr); s != "rebased 2, up to date 0, skipped 0, failed 0" {
		t.Errorf("summary %q", s)
	}
	rel := readFile(t, filepath.Join(dir, "deploy", "release.yaml"))
	hello, greeter := newRef(t, rel, "hello"), newRef(t, rel, "greeter")
	want := strings.ReplaceAll(strings.ReplaceAll(string(suite.release), suite.apps["hello"], hello), suite.apps["greeter"], greeter)
	if hello == suite.apps["hello"] || greeter == suite.apps["greeter"] || rel != want {
		t.Errorf("deploy/release.yaml: want both apps rebased and nothing else changed:\n%s", rel)
	}
	if got := readFile(t, filepath.Join(dir, "deploy", "jobs", "greeter.yaml")); got != "image: "+greeter+"\n" {
		t.Errorf("deploy/jobs/greeter.yaml = %q, want greeter rebased to %s", got, greeter)
	}
}

// recipeGitOps runs examples/gitops-rebase.sh in a clone of a manifests
// repository, as a scheduled job would: a day with new bases (commit and
// push, exit 0), a quiet day (nothing committed, exit 0), and a day when an
// image fails (nothing rewritten or committed, exit 1).
func recipeGitOps(t *testing.T, script string) {
	gitRepo := func(t *testing.T, files map[string]string) (work, remote string) {
		t.Helper()
		top := t.TempDir()
		remote, work = filepath.Join(top, "remote.git"), filepath.Join(top, "work")
		for name, content := range files {
			writeFile(t, filepath.Join(work, name), []byte(content))
		}
		sh, err := os.ReadFile(filepath.Join(suite.root, "examples", "gitops-rebase.sh"))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(work, "examples", "gitops-rebase.sh"), sh)
		if err := os.Chmod(filepath.Join(work, "examples", "gitops-rebase.sh"), 0o755); err != nil {
			t.Fatal(err)
		}
		commitAndPush(t, top, work, remote)
		return work, remote
	}
	commits := func(t *testing.T, remote string) string {
		return git(t, remote, "rev-list", "--count", "main")
	}

	t.Run("new bases: commit and push", func(t *testing.T) {
		work, remote := gitRepo(t, map[string]string{
			"deploy/release.yaml":      string(suite.release),
			"deploy/jobs/greeter.yaml": "image: " + suite.apps["greeter"] + "\n",
		})
		p := shell(t, work, script)
		if p.code != 0 || !strings.HasPrefix(p.stdout, "gitops-rebase: committed and pushed ") {
			t.Fatalf("exit %d, stdout %q; stderr %s", p.code, p.stdout, p.stderr)
		}
		if n := commits(t, remote); n != "2" {
			t.Errorf("remote has %s commits, want 2 (the manifests, the rebase)", n)
		}
		pushed := git(t, remote, "show", "main:deploy/release.yaml")
		if hello := newRef(t, pushed, "hello"); hello == suite.apps["hello"] {
			t.Errorf("the pushed release.yaml still names ko's hello")
		}
		if g := git(t, remote, "show", "main:deploy/jobs/greeter.yaml"); strings.Contains(g, suite.apps["greeter"]) {
			t.Errorf("deploy/jobs/greeter.yaml not rebased: %s", g)
		}
		if s := git(t, work, "status", "--porcelain"); s != "" {
			t.Errorf("the work tree is not clean after the job:\n%s", s)
		}

		// The next day nothing moved: success, nothing committed.
		p = shell(t, work, script)
		if p.code != 0 || p.stdout != "gitops-rebase: nothing to rebase\n" {
			t.Errorf("quiet day: exit %d, stdout %q; stderr %s", p.code, p.stdout, p.stderr)
		}
		if n := commits(t, remote); n != "2" {
			t.Errorf("quiet day: remote has %s commits, want still 2", n)
		}
	})

	t.Run("a push failed: the next run pushes it before a quiet day", func(t *testing.T) {
		work, remote := gitRepo(t, map[string]string{"deploy/release.yaml": string(suite.release)})
		// The remote refuses pushes while the hook is there (a network
		// blip, a protected branch, an expired token).
		hook := filepath.Join(remote, "hooks", "pre-receive")
		writeFile(t, hook, []byte("#!/bin/sh\necho refused by the test >&2\nexit 1\n"))
		if err := os.Chmod(hook, 0o755); err != nil {
			t.Fatal(err)
		}
		p := shell(t, work, script)
		if p.code != 1 || !strings.HasSuffix(p.stderr, "gitops-rebase: git push failed; 1 commit(s) stay ahead of origin/main, for the next run to push\n") {
			t.Fatalf("push refused: exit %d, want 1 and the commit left ahead named; stderr %s", p.code, p.stderr)
		}
		// Still refused the next day: it fails again, saying so, instead of
		// calling it a quiet day.
		p = shell(t, work, script)
		if p.code != 1 || p.stdout != "" || !strings.HasSuffix(p.stderr, "gitops-rebase: git push failed; 1 commit(s) stay ahead of origin/main, for the next run to push\n") {
			t.Errorf("still refused: exit %d, stdout %q, want 1 and nothing on stdout; stderr %s", p.code, p.stdout, p.stderr)
		}
		if err := os.Remove(hook); err != nil {
			t.Fatal(err)
		}
		p = shell(t, work, script)
		if p.code != 0 || p.stdout != "gitops-rebase: nothing new to rebase; pushed the 1 commit(s) an earlier run left unpushed\n" {
			t.Fatalf("next run: exit %d, stdout %q; stderr %s", p.code, p.stdout, p.stderr)
		}
		if n := commits(t, remote); n != "2" {
			t.Errorf("remote has %s commits, want 2 (the manifests, the rebase)", n)
		}
		if head, pushed := git(t, work, "rev-parse", "HEAD"), git(t, remote, "rev-parse", "main"); head != pushed {
			t.Errorf("remote main is %s, the job's HEAD %s", pushed, head)
		}
		if hello := newRef(t, git(t, remote, "show", "main:deploy/release.yaml"), "hello"); hello == suite.apps["hello"] {
			t.Errorf("the pushed release.yaml still names ko's hello")
		}
	})

	t.Run("an image fails: nothing rewritten, nothing pushed", func(t *testing.T) {
		gone := suite.host + "/apps/gone@sha256:" + strings.Repeat("0", 64)
		work, remote := gitRepo(t, map[string]string{
			"deploy/release.yaml": string(suite.release),
			"deploy/gone.yaml":    "image: " + gone + "\n",
		})
		p := shell(t, work, script)
		if p.code != 1 || !strings.Contains(p.stderr, gone+": error: ") ||
			!strings.HasSuffix(p.stderr, "gitops-rebase: an image failed (see above); nothing rewritten, nothing committed\n") {
			t.Fatalf("exit %d, want 1 with the failed line named; stderr %s", p.code, p.stderr)
		}
		if s := git(t, work, "status", "--porcelain"); s != "" {
			t.Errorf("the work tree changed:\n%s", s)
		}
		if n := commits(t, remote); n != "1" {
			t.Errorf("remote has %s commits, want 1 (nothing pushed)", n)
		}
	})

	t.Run("no KO_DOCKER_REPO: refuses to start", func(t *testing.T) {
		work, _ := gitRepo(t, map[string]string{"deploy/release.yaml": string(suite.release)})
		p := shell(t, work, "unset KO_DOCKER_REPO\n"+script)
		if p.code != 2 || p.stderr != "gitops-rebase: set KO_DOCKER_REPO to the repository your images are under (as for ko: KO_DOCKER_REPO=ghcr.io/acme)\n" {
			t.Errorf("exit %d, stderr %q", p.code, p.stderr)
		}
	})
}

// recipePR runs the --pr recipe as printed in a clone of a manifests
// repository, with a stand-in for gh on PATH (the real one needs a forge):
// a branch is pushed, main is not, and gh opens the request with the two
// summaries as its body.
func recipePR(t *testing.T, script string) {
	work, remote := prRepo(t)
	path, log := forgePath(t, "gh")
	p := shell(t, work, "export PATH="+path+"\n"+script)
	m := regexp.MustCompile(`gitops-rebase: pushed (rebase/[0-9a-f]{12}) and proposed it to main\n$`).FindStringSubmatch(p.stdout)
	if p.code != 0 || m == nil {
		t.Fatalf("exit %d, stdout %q; stderr %s", p.code, p.stdout, p.stderr)
	}
	if n := git(t, remote, "rev-list", "--count", "main"); n != "1" {
		t.Errorf("main has %s commits, want 1", n)
	}
	git(t, remote, "rev-parse", "--verify", m[1])
	body := readFile(t, filepath.Join(log, "gh.body"))
	if !strings.HasPrefix(body, "# Rebase summary\n") || !strings.Contains(body, "\n# Rewrite summary\n") {
		t.Errorf("the pull request's body is not the two summaries:\n%s", body)
	}
}

// TestReadmeSampleSummary: the sample summary in the README's "Reviewing a
// rebase" is the one TestSummaryMarkdown writes, not a hand-written one.
func TestReadmeSampleSummary(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile(filepath.Join("..", "cmd", "crane-rebase-stream", "testdata", "summary.golden.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	i := strings.Index(text, "\n## Reviewing a rebase\n")
	if i < 0 {
		t.Fatal(`README.md has no "## Reviewing a rebase" section`)
	}
	if !strings.Contains(text[i:], "\n```markdown\n"+string(golden)+"```\n") {
		t.Error("README's sample summary is not cmd/crane-rebase-stream/testdata/summary.golden.md: copy it from there (go test -run TestSummaryMarkdown ./cmd/crane-rebase-stream/ -update rewrites it)")
	}
}

// commitAndPush makes remote a bare repository and work a repository whose
// one commit, of the files in work, is pushed to remote's main, as a
// manifests repository a scheduled job clones.
func commitAndPush(t *testing.T, top, work, remote string) {
	t.Helper()
	git(t, top, "init", "-q", "--bare", "-b", "main", remote)
	git(t, work, "init", "-q", "-b", "main")
	git(t, work, "config", "user.name", "rebase bot")
	git(t, work, "config", "user.email", "bot@example.com")
	git(t, work, "add", ".")
	git(t, work, "commit", "-q", "-m", "manifests")
	git(t, work, "remote", "add", "origin", remote)
	git(t, work, "push", "-q", "-u", "origin", "main")
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// recipeUnannotated: an image built without base annotations, rebased with
// --old-base (by digest) and --new-base; the second command of the recipe,
// without flags, finds it up to date.
func recipeUnannotated(t *testing.T, script string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := rebasetest.Pusher{Ctx: ctx, Host: suite.host}
	app, err := p.UnannotatedApp("recipes/plain")
	if err != nil {
		t.Fatal(err)
	}
	old := tagDigest(t, ctx, p.Ref("recipes/plain/base:v1"))
	t.Setenv("OLD_BASE", p.Ref("recipes/plain/base@"+old))
	t.Setenv("NEW_BASE", p.Ref("recipes/plain/base:stable"))
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "images.txt"), []byte(app+"\n"))
	r := shell(t, dir, script)
	if r.code != 0 || summaryLine(r.stderr) != "rebased 0, up to date 1, skipped 0, failed 0" {
		t.Fatalf("exit %d, last summary %q, want the second run up to date; stderr %s", r.code, summaryLine(r.stderr), r.stderr)
	}
	if !strings.Contains(r.stderr, "rebased 1, up to date 0, skipped 0, failed 0") {
		t.Errorf("the first run did not rebase the image: %s", r.stderr)
	}
	got := strings.TrimSpace(readFile(t, filepath.Join(dir, "rebased.txt")))
	if got == app || !strings.HasPrefix(got, p.Ref("recipes/plain/app@sha256:")) {
		t.Fatalf("rebased.txt = %q, want the image rebased", got)
	}
	if err := rebasetest.Verify(ctx, got); err != nil {
		t.Error(err)
	}
}

// podmanRecipe checks the two blocks of the buildah/podman recipe in turn:
// the build, in a directory holding a Containerfile FROM a base tag (which
// then moves on), and the rebase, which must move the image's tag to an
// image on the new base whose config follows it.
type podmanRecipe struct {
	built bool
}

func (r *podmanRecipe) check(t *testing.T, script string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ref := suite.host + "/apps/web:v1"
	if strings.Contains(script, "podman build") {
		needContainers(t)
		baseRepo := "recipes/podman/base"
		v2, err := buildahBase("v2")
		if err != nil {
			t.Fatal(err)
		}
		first, err := buildahBase("v1")
		if err != nil {
			t.Fatal(err)
		}
		for tag, idx := range map[string]v1.ImageIndex{"v1": first, "v2": v2, "stable": first} {
			if err := pushIndex(ctx, baseRepo+":"+tag, idx); err != nil {
				t.Fatal(err)
			}
		}
		c := newContainers(t, ctx)
		dir := t.TempDir()
		buildProbes(t, ctx, dir, "amd64", "arm64")
		writeFile(t, filepath.Join(dir, "Containerfile"), []byte("FROM "+suite.host+"/"+baseRepo+":stable\n"+containerfile))
		if p := c.shell(t, dir, script); p.code != 0 {
			t.Fatalf("exit %d; stderr %s", p.code, p.stderr)
		}
		for p, pm := range platformManifests(t, ctx, ref) {
			_, d := childOf(t, first, p)
			if pm.m.Annotations[rebasetest.AnnotationBaseName] != suite.host+"/"+baseRepo+":stable" || pm.m.Annotations[rebasetest.AnnotationBaseDigest] != d.String() {
				t.Errorf("%s %s: annotations %v, want base.name the FROM tag and base.digest the base's %s", ref, p, pm.m.Annotations, d)
			}
		}
		if err := pushIndex(ctx, baseRepo+":stable", v2); err != nil {
			t.Fatal(err)
		}
		r.built = true
		return
	}
	if !r.built {
		t.Fatal("the rebase block ran without the build block before it")
	}
	p := shell(t, t.TempDir(), script)
	if p.code != 0 || summaryLine(p.stderr) != "rebased 1, up to date 0, skipped 0, failed 0" {
		t.Fatalf("exit %d, summary %q; stderr %s", p.code, summaryLine(p.stderr), p.stderr)
	}
	out := strings.TrimSpace(p.stdout)
	if !strings.HasPrefix(out, ref+"@sha256:") || tagDigest(t, ctx, ref) != strings.TrimPrefix(out, ref+"@") {
		t.Fatalf("output %q, want %s pinned to the rebased image, and the tag moved to it", out, ref)
	}
	if err := rebasetest.Verify(ctx, out); err != nil {
		t.Error(err)
	}
	for p, pm := range platformManifests(t, ctx, out) {
		cf, err := remoteImage(t, ctx, pm.ref).ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.Config.User != "65532" || !slices.Contains(cf.Config.Env, "APP_MODE=production") {
			t.Errorf("%s: config %+v, want the new base's User and the Containerfile's ENV", p, cf.Config)
		}
	}
	if !strings.Contains(p.stderr, `linux/arm64: config User (unset) -> "65532"`) {
		t.Errorf("-v does not list the config change")
	}
	if again := shell(t, t.TempDir(), script); again.code != 0 || summaryLine(again.stderr) != "rebased 0, up to date 1, skipped 0, failed 0" {
		t.Errorf("second run: exit %d, summary %q, want up to date", again.code, summaryLine(again.stderr))
	}
}

// recipeTrust: an app ko built on a base, both signed with the real cosign
// (the base by its publisher's key, the app by CI's), the base then moved
// to a new version its publisher signed too: the recipe rebases the app,
// signs the result with cosign.key (cosign verify passes), and its grep
// prints the two signatures verified with the keys' fingerprints.
func recipeTrust(t *testing.T, script string) {
	cosign := cosignBin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	t.Setenv("COSIGN_PASSWORD", "pw")
	for _, k := range []string{"base", "ci", "cosign"} {
		if _, errs, code := cosignRun(t, cosign, dir, nil, "generate-key-pair", "--output-key-prefix", k); code != 0 {
			t.Fatalf("cosign generate-key-pair: exit %d\n%s", code, errs)
		}
	}
	sign := func(key, ref string) {
		t.Helper()
		if _, errs, code := cosignRun(t, cosign, dir, nil, "sign", "--key", key, "--tlog-upload=false", "--yes",
			"--allow-insecure-registry", "--allow-http-registry", ref); code != 0 {
			t.Fatalf("cosign sign --key %s %s: exit %d\n%s", key, ref, code, errs)
		}
	}
	const baseRepo = "recipes/trust/base"
	if _, err := pushBase(ctx, baseRepo, "v1"); err != nil {
		t.Fatal(err)
	}
	sign("base.key", suite.host+"/"+baseRepo+"@"+resolve(t, baseRepo+":v1").String())
	out, err := ko(ctx, []string{"KO_DOCKER_REPO=" + suite.host + "/recipes/trust", "KO_DEFAULTBASEIMAGE=" + suite.host + "/" + baseRepo + ":stable"}, "build", "./hello")
	if err != nil {
		t.Fatal(err)
	}
	app, err := findRef(out, suite.host+"/recipes/trust/hello")
	if err != nil {
		t.Fatalf("ko build output: %v\n%s", err, out)
	}
	sign("ci.key", app)
	if _, err := pushBase(ctx, baseRepo, "v2"); err != nil {
		t.Fatal(err)
	}
	v2 := resolve(t, baseRepo+":v2")
	sign("base.key", suite.host+"/"+baseRepo+"@"+v2.String())
	writeFile(t, filepath.Join(dir, "images.txt"), []byte(app+"\n"))

	p := shell(t, dir, script)
	if p.code != 0 {
		t.Fatalf("exit %d; stderr %s", p.code, p.stderr)
	}
	got := strings.TrimSpace(readFile(t, filepath.Join(dir, "rebased.txt")))
	if got == app || !strings.HasPrefix(got, suite.host+"/recipes/trust/hello@sha256:") {
		t.Fatalf("rebased.txt = %q, want the app rebased", got)
	}
	appDigest := app[strings.Index(app, "@")+1:]
	appSig := "recipes/trust/hello:" + strings.Replace(appDigest, ":", "-", 1) + ".sig"
	baseSig := baseRepo + ":" + sigTag(v2)
	want := "crane-rebase-stream: " + app + ": verified base " + suite.host + "/" + baseRepo + "@" + v2.String() +
		": signature " + suite.host + "/" + baseSig + "@" + resolve(t, baseSig).String() + ", key " + fingerprint(t, filepath.Join(dir, "base.pub")) + "\n" +
		"crane-rebase-stream: " + app + ": verified image " + app +
		": signature " + suite.host + "/" + appSig + "@" + resolve(t, appSig).String() + ", key " + fingerprint(t, filepath.Join(dir, "ci.pub")) + "\n"
	if p.stdout != want {
		t.Errorf("the recipe printed\n%s\nwant\n%s", p.stdout, want)
	}
	if _, errs, code := cosignRun(t, cosign, dir, nil, "verify", "--key", "cosign.pub", "--insecure-ignore-tlog=true",
		"--allow-insecure-registry", "--allow-http-registry", got); code != 0 {
		t.Errorf("cosign verify --key cosign.pub %s: exit %d\n%s", got, code, errs)
	}
}

// layoutRecipe checks the two blocks of the air-gapped recipe in turn, in
// one directory: the copy into the layout (an app ko-built on base v1, the
// base since moved to v2) and the rebase inside it, which must print the
// digest skopeo then reads under the ref.name, an image on the new base
// that validates.
type layoutRecipe struct {
	dir    string
	v2     v1.ImageIndex
	oldApp v1.Hash
}

func (r *layoutRecipe) check(t *testing.T, script string) {
	needSkopeo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// skopeo reaches the loopback registry in plain HTTP through a
	// registries.conf of its own in a HOME of its own (the recipe prints no
	// TLS flag; skopeo 1.9 reads no CONTAINERS_REGISTRIES_CONF); no
	// credentials file is read.
	home := t.TempDir()
	writeFile(t, filepath.Join(home, ".config", "containers", "registries.conf"),
		[]byte("unqualified-search-registries = []\n\n[[registry]]\nlocation = \""+suite.host+"\"\ninsecure = true\n"))
	t.Setenv("HOME", home)
	t.Setenv("REGISTRY_AUTH_FILE", filepath.Join(home, "auth.json"))
	t.Setenv("DOCKER_CONFIG", filepath.Join(home, "docker"))
	if strings.Contains(script, "skopeo copy") {
		base := "recipes/air/base"
		v1b, err := rebasetest.BaseIndex("v1")
		if err != nil {
			t.Fatal(err)
		}
		if r.v2, err = rebasetest.BaseIndex("v2"); err != nil {
			t.Fatal(err)
		}
		for _, tag := range []string{"v1", "stable"} {
			if err := pushIndex(ctx, base+":"+tag, v1b); err != nil {
				t.Fatal(err)
			}
		}
		app, err := rebasetest.KoApp(suite.host+"/"+base+":stable", v1b, "air")
		if err != nil {
			t.Fatal(err)
		}
		if err := pushIndex(ctx, "apps/air:v1", app); err != nil {
			t.Fatal(err)
		}
		r.oldApp = digestOf(t, app)
		for _, tag := range []string{"v2", "stable"} {
			if err := pushIndex(ctx, base+":"+tag, r.v2); err != nil {
				t.Fatal(err)
			}
		}
		t.Setenv("OLD_BASE", suite.host+"/"+base+"@"+digestOf(t, v1b).String())
		t.Setenv("NEW_BASE", suite.host+"/"+base+":stable")
		// The layout outlives this block: the next one rebases it.
		var err2 error
		if r.dir, err2 = os.MkdirTemp("", "rebasekit-air-"); err2 != nil {
			t.Fatal(err2)
		}
		if p := shell(t, r.dir, script); p.code != 0 {
			t.Fatalf("exit %d; stderr %s", p.code, p.stderr)
		}
		lp, err := layout.FromPath(filepath.Join(r.dir, "images"))
		if err != nil {
			t.Fatal(err)
		}
		top, err := lp.ImageIndex()
		if err != nil {
			t.Fatal(err)
		}
		im, err := top.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]v1.Hash{}
		for _, d := range im.Manifests {
			names[d.Annotations["org.opencontainers.image.ref.name"]] = d.Digest
		}
		if names["air"] != r.oldApp || names["base-old"] != digestOf(t, v1b) || names["base-new"] != digestOf(t, r.v2) {
			t.Fatalf("the layout names %v, want air, base-old and base-new", names)
		}
		return
	}
	if r.dir == "" {
		t.Fatal("the rebase block ran without the copy block before it")
	}
	t.Cleanup(func() { os.RemoveAll(r.dir) })
	p := shell(t, r.dir, script)
	if p.code != 0 {
		t.Fatalf("exit %d; stderr %s", p.code, p.stderr)
	}
	line := readFile(t, filepath.Join(r.dir, "rebased.txt"))
	digest := strings.TrimSuffix(strings.TrimPrefix(line, "oci:images:air@"), "\n")
	h, err := v1.NewHash(digest)
	if err != nil || line != "oci:images:air@"+digest+"\n" || h == r.oldApp {
		t.Fatalf("rebased.txt = %q, want oci:images:air@sha256:NEW", line)
	}
	if p.stdout != h.Hex+"  -\n" {
		t.Errorf("sha256sum of skopeo inspect --raw: %q, want the printed digest %s", p.stdout, h.Hex)
	}
	lp, err := layout.FromPath(filepath.Join(r.dir, "images"))
	if err != nil {
		t.Fatal(err)
	}
	top, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	idx, err := top.ImageIndex(h)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(idx); err != nil {
		t.Error(err)
	}
	descs, imgs := platformImages(t, idx)
	for _, d := range descs {
		nb, _ := childOf(t, r.v2, d.Platform.String())
		want, got := layerDigests(t, nb), layerDigests(t, imgs[d.Platform.String()])
		if len(got) <= len(want) || !slices.Equal(got[:len(want)], want) {
			t.Errorf("%s: layers %v, want the new base's %v first", d.Platform, got, want)
		}
	}
}
