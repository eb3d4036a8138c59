package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// standIn writes an executable name into dir that records its arguments
// (NUL-separated, in log/name.args) and, for gh, the --body-file's contents
// (log/name.body), and prints a pull request's URL, as gh and glab do.
func standIn(t *testing.T, dir, log, name string) {
	t.Helper()
	script := `#!/bin/sh
printf '%s\0' "$@" >>"` + log + `/` + name + `.args"
while [ $# -gt 0 ]; do
  if [ "$1" = --body-file ]; then cat "$2" >"` + log + `/` + name + `.body"; fi
  shift
done
echo https://forge.example/acme/manifests/pull/1
`
	writeFile(t, filepath.Join(dir, name), []byte(script))
	if err := os.Chmod(filepath.Join(dir, name), 0o755); err != nil {
		t.Fatal(err)
	}
}

// forgePath is a PATH holding the stand-ins, rebasekit's binaries and the
// tools the script uses, and no other gh or glab.
func forgePath(t *testing.T, forges ...string) (path, log string) {
	t.Helper()
	dir, log := t.TempDir(), t.TempDir()
	for _, f := range forges {
		standIn(t, dir, log, f)
	}
	for _, tool := range []string{"bash", "sh", "git", "sed", "paste", "cut", "cat", "mktemp", "rm", "env", "grep"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(p, filepath.Join(dir, tool)); err != nil {
			t.Fatal(err)
		}
	}
	return dir + string(os.PathListSeparator) + suite.bin, log
}

func args(t *testing.T, log, name string) [][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(log, name+".args"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	// One call: each argument ends with a NUL.
	return [][]string{strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")}
}

// prRepo is a manifests repository, pushed to remote's main, holding the
// release ko resolved on base:stable's v1 (base:stable is v2 now) and the
// script.
func prRepo(t *testing.T) (work, remote string) {
	t.Helper()
	top := t.TempDir()
	remote, work = filepath.Join(top, "remote.git"), filepath.Join(top, "work")
	writeFile(t, filepath.Join(work, "deploy", "release.yaml"), suite.release)
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

// TestGitOpsPullRequest: examples/gitops-rebase.sh --pr commits on a branch
// named after the change, pushes it and opens a pull request (gh) or a
// merge request (glab) titled with the base that moved, its body the two
// summaries; main is untouched, and the same change is not proposed twice.
func TestGitOpsPullRequest(t *testing.T) {
	need(t)
	base := suite.host + "/base:stable"
	title := "Rebase onto " + base
	for _, forge := range []string{"gh", "glab"} {
		t.Run(forge, func(t *testing.T) {
			work, remote := prRepo(t)
			path, log := forgePath(t, forge)
			script := `PATH="` + path + `" examples/gitops-rebase.sh --pr deploy/`
			p := shell(t, work, script)
			m := regexp.MustCompile(`^gitops-rebase: pushed (rebase/[0-9a-f]{12}) and proposed it to main\n$`).FindStringSubmatch(p.stdout[strings.LastIndex(strings.TrimSuffix(p.stdout, "\n"), "\n")+1:])
			if p.code != 0 || m == nil {
				t.Fatalf("exit %d, stdout %q; stderr %s", p.code, p.stdout, p.stderr)
			}
			branch := m[1]
			if n := git(t, remote, "rev-list", "--count", "main"); n != "1" {
				t.Errorf("main has %s commits, want 1: --pr pushes a branch only", n)
			}
			if got := git(t, remote, "log", "-1", "--format=%s", branch); got != title {
				t.Errorf("the branch's commit is %q, want %q", got, title)
			}
			rel := git(t, remote, "show", branch+":deploy/release.yaml")
			hello := newRef(t, rel, "hello")
			if hello == suite.apps["hello"] {
				t.Errorf("the branch's release.yaml still names ko's hello")
			}
			if s := git(t, work, "status", "--porcelain"); s != "" {
				t.Errorf("the work tree is not clean:\n%s", s)
			}
			if b := git(t, work, "rev-parse", "--abbrev-ref", "HEAD"); b != "main" {
				t.Errorf("the work tree is left on %s, want main", b)
			}
			calls := args(t, log, forge)
			if len(calls) != 1 {
				t.Fatalf("%s called %d times, want once", forge, len(calls))
			}
			var want []string
			var body string
			switch forge {
			case "gh":
				a := calls[0]
				if len(a) != 10 {
					t.Fatalf("gh %q", a)
				}
				want = []string{"pr", "create", "--base", "main", "--head", branch, "--title", title, "--body-file", a[9]}
				body = readFile(t, filepath.Join(log, "gh.body"))
			case "glab":
				a := calls[0]
				if len(a) != 11 {
					t.Fatalf("glab %q", a)
				}
				body = a[9]
				want = []string{"mr", "create", "--target-branch", "main", "--source-branch", branch, "--title", title, "--description", body, "--yes"}
			}
			if strings.Join(calls[0], "\x00") != strings.Join(want, "\x00") {
				t.Errorf("%s %q\nwant %q", forge, calls[0], want)
			}
			for _, s := range []string{
				"# Rebase summary\n",
				"## Base `" + base + "`\n",
				"- `" + suite.apps["hello"] + "`: ",
				"# Rewrite summary\n",
				"## `deploy/release.yaml`\n",
				" -> `" + hello + "`\n",
			} {
				if !strings.Contains(body, s) {
					t.Errorf("the %s body lacks %q:\n%s", forge, s, body)
				}
			}

			// The next run finds the same change already proposed.
			p = shell(t, work, script)
			if p.code != 0 || !strings.HasSuffix(p.stdout, "gitops-rebase: already proposed on "+branch+"\n") {
				t.Errorf("second run: exit %d, stdout %q; stderr %s", p.code, p.stdout, p.stderr)
			}
			if n := len(args(t, log, forge)[0]); n != len(want) {
				t.Errorf("second run: %s called again", forge)
			}
			if s := git(t, work, "status", "--porcelain"); s != "" {
				t.Errorf("second run: the work tree is not clean:\n%s", s)
			}
		})
	}
	t.Run("no forge on PATH", func(t *testing.T) {
		work, _ := prRepo(t)
		path, _ := forgePath(t)
		p := shell(t, work, `PATH="`+path+`" examples/gitops-rebase.sh --pr`)
		if p.code != 2 || p.stderr != "gitops-rebase: --pr needs gh (GitHub) or glab (GitLab) on PATH\n" {
			t.Errorf("exit %d, stderr %q", p.code, p.stderr)
		}
	})
}
