package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// standIn writes an executable name (gh or glab) into dir that acts as the
// forge would: "pr create" ("mr create") records the request as open for
// its head branch and prints its URL, or fails while log/name.fail exists;
// "pr list" ("mr list") prints the open requests for the branch asked
// about, as JSON. Each call's arguments are recorded (NUL after each, \x01
// after each call, in log/name.calls), and the body of a created request
// (its --body-file's contents or its --description) in log/name.body.
func standIn(t *testing.T, dir, log, name string) {
	t.Helper()
	item := `{"number":1}`
	if name == "glab" {
		item = `{"iid":1}`
	}
	script := `#!/bin/sh
log="` + log + `"
printf '%s\0' "$@" >>"$log/` + name + `.calls"
printf '\001' >>"$log/` + name + `.calls"
verb="$2"
head= body=
while [ $# -gt 0 ]; do
  case $1 in
  --head|--source-branch) head=$2 ;;
  --body-file) body=$(cat "$2") ;;
  --description) body=$2 ;;
  esac
  shift
done
case $verb in
list)
  if grep -qxF "$head" "$log/` + name + `.open" 2>/dev/null; then echo '[` + item + `]'; else echo '[]'; fi ;;
create)
  if [ -e "$log/` + name + `.fail" ]; then echo "` + name + `: HTTP 502: Bad Gateway" >&2; exit 1; fi
  printf '%s' "$body" >"$log/` + name + `.body"
  echo "$head" >>"$log/` + name + `.open"
  echo https://forge.example/acme/manifests/pull/1 ;;
esac
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
	for _, tool := range []string{"bash", "sh", "git", "sed", "paste", "cut", "cat", "cp", "mktemp", "rm", "env", "grep", "awk", "wc"} {
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

// calls returns the stand-in's calls so far, each its arguments.
func calls(t *testing.T, log, name string) [][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(log, name+".calls"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for _, c := range strings.Split(strings.TrimSuffix(string(b), "\x01"), "\x01") {
		out = append(out, strings.Split(strings.TrimSuffix(c, "\x00"), "\x00"))
	}
	return out
}

// listCall is the call that asks the forge for branch's open requests.
func listCall(forge, branch string) []string {
	if forge == "gh" {
		return []string{"pr", "list", "--head", branch, "--state", "open", "--json", "number"}
	}
	return []string{"mr", "list", "--source-branch", branch, "--output", "json"}
}

// createCall is the call that opens the request for branch against base;
// body is the one the forge recorded, bodyFile gh's --body-file argument.
func createCall(forge, base, branch, title, body, bodyFile string) []string {
	if forge == "gh" {
		return []string{"pr", "create", "--base", base, "--head", branch, "--title", title, "--body-file", bodyFile}
	}
	return []string{"mr", "create", "--target-branch", base, "--source-branch", branch, "--title", title, "--description", body, "--yes"}
}

// sameCalls reports a difference between the calls made and want.
func sameCalls(t *testing.T, what string, got, want [][]string) {
	t.Helper()
	join := func(cs [][]string) string {
		var s []string
		for _, c := range cs {
			s = append(s, strings.Join(c, "\x00"))
		}
		return strings.Join(s, "\x01")
	}
	if join(got) != join(want) {
		t.Errorf("%s: calls\n%q\nwant\n%q", what, got, want)
	}
}

// lastLine is s's last line, without its newline.
func lastLine(s string) string {
	s = strings.TrimSuffix(s, "\n")
	return s[strings.LastIndex(s, "\n")+1:]
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
// summaries; main is untouched, and the same change is not proposed twice:
// "already proposed" is an open request the forge lists, so a request that
// failed to open (exit 3) is opened by the next run. A body too long for
// the forge or for one argument is cut, saying so. In a detached HEAD the
// request targets the CI's branch or the remote's default one, never HEAD.
func TestGitOpsPullRequest(t *testing.T) {
	need(t)
	base := suite.host + "/base:stable"
	title := "Rebase onto " + base
	pushed := regexp.MustCompile(`^gitops-rebase: pushed (rebase/[0-9a-f]{12}) and proposed it to main$`)
	// propose runs script in work, wants a request opened for main, and
	// returns its branch, its body and what the run printed.
	propose := func(t *testing.T, work, script, forge, log string) (branch, body, stdout string) {
		t.Helper()
		p := shell(t, work, script)
		m := pushed.FindStringSubmatch(lastLine(p.stdout))
		if p.code != 0 || m == nil {
			t.Fatalf("exit %d, stdout %q; stderr %s", p.code, p.stdout, p.stderr)
		}
		c := calls(t, log, forge)
		if len(c) != 2 || len(c[1]) < 10 {
			t.Fatalf("%s calls %q, want a list and a create", forge, c)
		}
		body = readFile(t, filepath.Join(log, forge+".body"))
		sameCalls(t, forge, c, [][]string{listCall(forge, m[1]), createCall(forge, "main", m[1], title, body, c[1][9])})
		return m[1], body, p.stdout
	}
	for _, forge := range []string{"gh", "glab"} {
		t.Run(forge, func(t *testing.T) {
			work, remote := prRepo(t)
			path, log := forgePath(t, forge)
			script := `PATH="` + path + `" examples/gitops-rebase.sh --pr deploy/`
			branch, body, _ := propose(t, work, script, forge, log)
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
			for _, s := range []string{
				"# Rebase summary\n",
				"## Base `" + base + "`\n",
				"- `" + suite.apps["hello"] + "`: ",
				"# Rewrite summary\n",
				"## `deploy/release.yaml`\n",
				" -> `" + hello + "`",
			} {
				if !strings.Contains(body, s) {
					t.Errorf("the %s body lacks %q:\n%s", forge, s, body)
				}
			}

			// The next run finds the same change already proposed.
			before := calls(t, log, forge)
			p := shell(t, work, script)
			if p.code != 0 || !strings.HasSuffix(p.stdout, "gitops-rebase: already proposed on "+branch+"\n") {
				t.Errorf("second run: exit %d, stdout %q; stderr %s", p.code, p.stdout, p.stderr)
			}
			sameCalls(t, "second run", calls(t, log, forge), append(before, listCall(forge, branch)))
			if s := git(t, work, "status", "--porcelain"); s != "" {
				t.Errorf("second run: the work tree is not clean:\n%s", s)
			}
		})

		t.Run(forge+" fails to open the request", func(t *testing.T) {
			work, remote := prRepo(t)
			path, log := forgePath(t, forge)
			writeFile(t, filepath.Join(log, forge+".fail"), nil)
			script := `PATH="` + path + `" examples/gitops-rebase.sh --pr deploy/`
			p := shell(t, work, script)
			m := regexp.MustCompile(`^gitops-rebase: ` + forge + ` could not open the request for (rebase/[0-9a-f]{12}) \(see above\); the branch is pushed, the next run opens its request$`).FindStringSubmatch(lastLine(p.stderr))
			if p.code != 3 || m == nil || !strings.Contains(p.stderr, forge+": HTTP 502: Bad Gateway\n") {
				t.Fatalf("exit %d, want 3 and the failure named; stdout %q; stderr %s", p.code, p.stdout, p.stderr)
			}
			branch := m[1]
			tip := git(t, remote, "rev-parse", "--verify", "refs/heads/"+branch)
			if n := git(t, remote, "rev-list", "--count", "main"); n != "1" {
				t.Errorf("main has %s commits, want 1", n)
			}
			if s, b := git(t, work, "status", "--porcelain"), git(t, work, "rev-parse", "--abbrev-ref", "HEAD"); s != "" || b != "main" {
				t.Errorf("the work tree is left on %s, want main and clean:\n%s", b, s)
			}

			// The forge is back: the next run opens the request for the
			// branch already pushed, as it is.
			if err := os.Remove(filepath.Join(log, forge+".fail")); err != nil {
				t.Fatal(err)
			}
			before := calls(t, log, forge)
			p = shell(t, work, script)
			if want := "gitops-rebase: proposed " + branch + ", pushed by an earlier run, to main"; p.code != 0 || lastLine(p.stdout) != want {
				t.Fatalf("next run: exit %d, stdout %q, want %q; stderr %s", p.code, p.stdout, want, p.stderr)
			}
			c := calls(t, log, forge)
			if len(c) != len(before)+2 || len(c[len(c)-1]) < 10 {
				t.Fatalf("next run: %s calls %q", forge, c)
			}
			body := readFile(t, filepath.Join(log, forge+".body"))
			sameCalls(t, "next run", c, append(before, listCall(forge, branch), createCall(forge, "main", branch, title, body, c[len(c)-1][9])))
			if !strings.HasPrefix(body, "# Rebase summary\n") || !strings.Contains(body, "\n# Rewrite summary\n") {
				t.Errorf("next run: the body is not the two summaries:\n%s", body)
			}
			if got := git(t, remote, "rev-parse", "refs/heads/"+branch); got != tip {
				t.Errorf("next run: %s moved from %s to %s", branch, tip, got)
			}
			p = shell(t, work, script)
			if p.code != 0 || p.stdout != "gitops-rebase: already proposed on "+branch+"\n" {
				t.Errorf("third run: exit %d, stdout %q; stderr %s", p.code, p.stdout, p.stderr)
			}
		})

		t.Run(forge+" body too long", func(t *testing.T) {
			work, _ := prRepo(t)
			path, log := forgePath(t, forge)
			// crane-rebase-stream's summary of a large fleet: 2,000 lines,
			// 150 KB, more than GitHub takes and more than one argument
			// may hold.
			wrapper := `#!/bin/sh
"` + filepath.Join(suite.bin, "crane-rebase-stream") + `" "$@"; rc=$?
s=
while [ $# -gt 0 ]; do if [ "$1" = --summary ]; then s=$2; fi; shift; done
[ -z "$s" ] || awk 'BEGIN { for (i = 0; i < 2000; i++) printf "- ` + "`" + `padding/%04d` + "`" + `: one line of a long summary, as a fleet of images writes\n", i }' >>"$s"
exit $rc
`
			dir := filepath.SplitList(path)[0]
			writeFile(t, filepath.Join(dir, "crane-rebase-stream"), []byte(wrapper))
			if err := os.Chmod(filepath.Join(dir, "crane-rebase-stream"), 0o755); err != nil {
				t.Fatal(err)
			}
			_, body, stdout := propose(t, work, `PATH="`+path+`" examples/gitops-rebase.sh --pr deploy/`, forge, log)
			if len(body) > 60000 || !strings.HasPrefix(body, "# Rebase summary\n") {
				t.Errorf("the body is %d bytes, want at most 60000, the summaries' start:\n%.300s", len(body), body)
			}
			note := regexp.MustCompile("\n_The summaries are cut here: ([0-9]+) of ([0-9]+) bytes shown. The whole text is in the log of the job that opened this request._$").FindStringSubmatch(body)
			if note == nil {
				t.Fatalf("the body does not end saying it is cut:\n...%s", body[max(0, len(body)-300):])
			}
			// The job's log, the run's stdout, has the whole of it.
			whole := "gitops-rebase: the request's body is cut at 60000 bytes; the whole of it, " + note[2] + " bytes:\n"
			i := strings.Index(stdout, whole)
			if i < 0 || !strings.HasPrefix(stdout[i+len(whole):], "# Rebase summary\n") ||
				!strings.Contains(stdout, "padding/1999`") || !strings.Contains(stdout, "\n# Rewrite summary\n") {
				t.Errorf("the run's output lacks %q and the whole body after it:\n%.500s", whole, stdout)
			}
			if len(stdout) <= 150000 {
				t.Errorf("the run printed %d bytes, fewer than the 150 KB summary", len(stdout))
			}
		})
	}

	t.Run("detached HEAD", func(t *testing.T) {
		for _, c := range []struct {
			name, forge, env, setHead string
		}{
			{"GitLab CI's branch", "glab", "CI_COMMIT_REF_NAME=main CI_DEFAULT_BRANCH=trunk", ""},
			{"GitLab CI, a tag pipeline", "glab", "CI_COMMIT_REF_NAME=v1.2.0 CI_COMMIT_TAG=v1.2.0 CI_DEFAULT_BRANCH=main", ""},
			{"GitHub Actions' branch", "gh", "GITHUB_REF_NAME=main GITHUB_REF_TYPE=branch", ""},
			{"the remote's default branch", "gh", "", "main"},
		} {
			t.Run(c.name, func(t *testing.T) {
				work, remote := prRepo(t)
				path, log := forgePath(t, c.forge)
				if c.setHead != "" {
					git(t, work, "remote", "set-head", "origin", c.setHead)
				}
				git(t, work, "checkout", "-q", "--detach")
				head := git(t, work, "rev-parse", "HEAD")
				branch, _, _ := propose(t, work, c.env+` PATH="`+path+`" examples/gitops-rebase.sh --pr deploy/`, c.forge, log)
				git(t, remote, "rev-parse", "--verify", "refs/heads/"+branch)
				if got, s := git(t, work, "rev-parse", "--abbrev-ref", "HEAD")+" "+git(t, work, "rev-parse", "HEAD"), git(t, work, "status", "--porcelain"); got != "HEAD "+head || s != "" {
					t.Errorf("the work tree is left at %s, want detached at %s and clean:\n%s", got, head, s)
				}
			})
		}
		t.Run("no branch known", func(t *testing.T) {
			work, remote := prRepo(t)
			path, log := forgePath(t, "gh")
			git(t, work, "checkout", "-q", "--detach")
			p := shell(t, work, `PATH="`+path+`" examples/gitops-rebase.sh --pr deploy/`)
			if want := "gitops-rebase: a detached HEAD and no branch to propose to: check out the branch, or set GITHUB_BASE_REF or CI_DEFAULT_BRANCH, or run git remote set-head origin --auto\n"; p.code != 2 || p.stdout != "" || p.stderr != want {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2 and %q", p.code, p.stdout, p.stderr, want)
			}
			if c := calls(t, log, "gh"); c != nil {
				t.Errorf("gh called: %q", c)
			}
			if heads := git(t, remote, "for-each-ref", "--format=%(refname)", "refs/heads/"); heads != "refs/heads/main" {
				t.Errorf("the remote's branches are %q, want main only", heads)
			}
			if s := git(t, work, "status", "--porcelain"); s != "" {
				t.Errorf("the work tree is not clean:\n%s", s)
			}
		})
	})

	t.Run("no forge on PATH", func(t *testing.T) {
		work, _ := prRepo(t)
		path, _ := forgePath(t)
		p := shell(t, work, `PATH="`+path+`" examples/gitops-rebase.sh --pr`)
		if p.code != 2 || p.stderr != "gitops-rebase: --pr needs gh (GitHub) or glab (GitLab) on PATH\n" {
			t.Errorf("exit %d, stderr %q", p.code, p.stderr)
		}
	})
}

// TestGitOpsArguments: examples/gitops-rebase.sh takes --pr before or after
// DIR, and refuses an unknown flag or a second DIR before doing anything,
// so that a mistyped or misplaced --pr never pushes to the branch.
func TestGitOpsArguments(t *testing.T) {
	need(t)
	usage := "usage: KO_DOCKER_REPO=REPO gitops-rebase.sh [--pr] [DIR]   (DIR: deploy/ unless given)\n"
	t.Run("DIR before --pr", func(t *testing.T) {
		work, remote := prRepo(t)
		path, log := forgePath(t, "gh")
		p := shell(t, work, `PATH="`+path+`" examples/gitops-rebase.sh deploy/ --pr`)
		if p.code != 0 || !regexp.MustCompile(`^gitops-rebase: pushed rebase/[0-9a-f]{12} and proposed it to main$`).MatchString(lastLine(p.stdout)) {
			t.Errorf("exit %d, stdout %q; stderr %s", p.code, p.stdout, p.stderr)
		}
		if n := git(t, remote, "rev-list", "--count", "main"); n != "1" {
			t.Errorf("main has %s commits, want 1: --pr after DIR pushes a branch only", n)
		}
		if c := calls(t, log, "gh"); len(c) != 2 {
			t.Errorf("gh calls %q, want a list and a create", c)
		}
	})
	for _, c := range []struct{ args, stderr string }{
		{"--prr deploy/", "gitops-rebase: unknown flag --prr\n" + usage},
		{"deploy/ --dry-run", "gitops-rebase: unknown flag --dry-run\n" + usage},
		{"deploy/ other/", "gitops-rebase: one DIR only, not 'deploy/' and 'other/'\n" + usage},
		{"--pr deploy/ other/", "gitops-rebase: one DIR only, not 'deploy/' and 'other/'\n" + usage},
	} {
		t.Run(c.args, func(t *testing.T) {
			work, remote := prRepo(t)
			path, log := forgePath(t, "gh")
			p := shell(t, work, `PATH="`+path+`" examples/gitops-rebase.sh `+c.args)
			if p.code != 2 || p.stdout != "" || p.stderr != c.stderr {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2 and %q", p.code, p.stdout, p.stderr, c.stderr)
			}
			if n := git(t, remote, "rev-list", "--count", "main"); n != "1" {
				t.Errorf("main has %s commits, want 1", n)
			}
			if s, c := git(t, work, "status", "--porcelain"), calls(t, log, "gh"); s != "" || c != nil {
				t.Errorf("the work tree changed (%q) or gh was called (%q)", s, c)
			}
		})
	}
}
