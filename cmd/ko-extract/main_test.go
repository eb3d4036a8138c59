package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
)

const dA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

func extract(t *testing.T, env string, args ...string) (string, string, error) {
	t.Helper()
	t.Setenv("KO_DOCKER_REPO", env)
	return runApp(t, app(), append([]string{"ko-extract"}, args...))
}

func runApp(t *testing.T, a *cli.App, args []string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	a.Writer, a.ErrWriter = &out, &errb
	err := a.Run(args)
	return out.String(), errb.String(), err
}

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExtract(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "b.yaml", "image: ghcr.io/acme/b:1\n---\nimage: ghcr.io/acme/a:1\n")
	write(t, dir, "a.yml", "image: ghcr.io/acme/a:1\nx: ko://example.com/cmd/x\n")
	write(t, dir, "sub/c.yaml", "image: ghcr.io/acme/c:1\n")
	write(t, dir, "notes.txt", "image: ghcr.io/acme/txt:1\n")
	write(t, dir, "empty.yaml", "")
	if err := os.Symlink(filepath.Join(dir, "a.yml"), filepath.Join(dir, "z-link.yaml")); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, env string
		args      []string
		out       string
	}{
		{"dir sorted, symlink read once", "", []string{"-f", dir}, "ghcr.io/acme/a:1\nghcr.io/acme/b:1\n"},
		{"recursive", "", []string{"-R", "-f", dir}, "ghcr.io/acme/a:1\nghcr.io/acme/b:1\nghcr.io/acme/c:1\n"},
		{"no-dedupe", "", []string{"-f", dir, "--no-dedupe"}, "ghcr.io/acme/a:1\nghcr.io/acme/b:1\nghcr.io/acme/a:1\n"},
		{"files in the order given", "", []string{"-f", filepath.Join(dir, "sub/c.yaml"), "-f", filepath.Join(dir, "b.yaml")}, "ghcr.io/acme/c:1\nghcr.io/acme/b:1\nghcr.io/acme/a:1\n"},
		{"KO_DOCKER_REPO filters", "ghcr.io/acme/b", []string{"-f", dir}, "ghcr.io/acme/b:1\n"},
		{"--all ignores KO_DOCKER_REPO", "ghcr.io/acme/b", []string{"-f", dir, "--all"}, "ghcr.io/acme/a:1\nghcr.io/acme/b:1\n"},
		{"--prefix wins over KO_DOCKER_REPO", "ghcr.io/acme/b", []string{"-f", dir, "--prefix", "ghcr.io/acme/a"}, "ghcr.io/acme/a:1\n"},
		{"json", "", []string{"-f", filepath.Join(dir, "b.yaml"), "-o", "json"},
			`{"file":"` + filepath.Join(dir, "b.yaml") + `","line":1,"column":8,"doc":0,"path":"image","rule":"key","ref":"ghcr.io/acme/b:1"}` + "\n" +
				`{"file":"` + filepath.Join(dir, "b.yaml") + `","line":3,"column":8,"doc":1,"path":"image","rule":"key","ref":"ghcr.io/acme/a:1"}` + "\n"},
		{"nothing found", "", []string{"-f", filepath.Join(dir, "notes.txt")}, ""},
		{"empty file", "", []string{"-f", filepath.Join(dir, "empty.yaml")}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := extract(t, tc.env, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			if tc.name == "nothing found" {
				out = strings.TrimSpace(out) // notes.txt is YAML too when named
				if out != "ghcr.io/acme/txt:1" {
					t.Errorf("out %q", out)
				}
				return
			}
			if out != tc.out {
				t.Errorf("got\n%s\nwant\n%s", out, tc.out)
			}
		})
	}
	_, stderr, _ := extract(t, "", "-f", filepath.Join(dir, "a.yml"))
	if want := "ko-extract: warning: unresolved ko:// reference at " + filepath.Join(dir, "a.yml") + ":2:4; run ko resolve first\n"; stderr != want {
		t.Errorf("stderr %q\nwant %q", stderr, want)
	}
}

// Bad input: a clear FILE:LINE:COL error, nothing on stdout, never a hang.
func TestExtractBadInput(t *testing.T) {
	dir := t.TempDir()
	var bomb strings.Builder
	bomb.WriteString("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n")
	for i := 'b'; i <= 'z'; i++ {
		prev := string(i - 1)
		bomb.WriteString(string(i) + ": &" + string(i) + " [*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + "]\n")
	}
	bomb.WriteString("image: ghcr.io/acme/bomb:1\n")
	for _, tc := range []struct {
		name, content, msg, out string
	}{
		{"unclosed flow", "a: b\nc: [d\ne: f\n", "bad.yaml:1:1: did not find expected ',' or ']'", ""},
		{"tab indent", "a:\n\tb: c\n", "bad.yaml:2:2: found character that cannot start any token", ""},
		{"binary", "image: x\n\x00\x01\x02", "bad.yaml:2:1: control characters are not allowed (byte 0x00)", ""},
		{"not utf-8", "a: b\nc: \xff\xfe\n", "bad.yaml:2:4: invalid UTF-8 (byte 0xff); is this a binary file?", ""},
		{"utf-16", "\xff\xfea\x00", "bad.yaml:1:1: UTF-16 input is not supported", ""},
		{"deep nesting", strings.Repeat("[", 20000) + strings.Repeat("]", 20000), "exceeded max depth", ""},
		{"alias bomb is walked once", bomb.String(), "", "ghcr.io/acme/bomb:1\n"},
		{"nothing printed before a later error", "image: ghcr.io/acme/a:1\n---\nkey: [\n", "bad.yaml:3:1: did not find expected node content", ""},
		{"unknown anchor in a later document", "image: ghcr.io/acme/a:1\n---\na: *nope\n", "bad.yaml:3:4: unknown anchor 'nope' referenced", ""},
		{"BOM of a concatenated file", "image: ghcr.io/acme/a:1\n---\n\xef\xbb\xbfimage: ghcr.io/acme/b:1\n", "bad.yaml:3:1: a byte-order mark inside the stream", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := write(t, dir, "bad.yaml", tc.content)
			out, _, err := extract(t, "", "-f", p)
			if tc.msg == "" {
				if err != nil || out != tc.out {
					t.Fatalf("out %q err %v", out, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v\nwant %q", err, tc.msg)
			}
			if !strings.HasPrefix(err.Error(), p+":") {
				t.Errorf("error does not start with FILE: %v", err)
			}
			if out != "" {
				t.Errorf("stdout %q", out)
			}
		})
	}
}

// A prefix that is not a repository is refused: a typo in KO_DOCKER_REPO
// would otherwise make the whole pipeline a silent no-op.
func TestExtractBadPrefix(t *testing.T) {
	p := write(t, t.TempDir(), "a.yaml", "image: ghcr.io/acme/a:1\n")
	for _, tc := range []struct{ env, flag, msg string }{
		{"", "Not Valid", `--prefix "Not Valid" is not a repository`},
		{"gcr.io/a/b:1", "", `$KO_DOCKER_REPO "gcr.io/a/b:1" is not a repository`},
	} {
		args := []string{"-f", p}
		if tc.flag != "" {
			args = append(args, "--prefix", tc.flag)
		}
		out, _, err := extract(t, tc.env, args...)
		if err == nil || !strings.Contains(err.Error(), tc.msg) || out != "" {
			t.Errorf("env %q flag %q: out %q err %v", tc.env, tc.flag, out, err)
		}
	}
}

// Usage errors go to stderr (the error), never help text on stdout.
func TestExtractUsageErrorNotOnStdout(t *testing.T) {
	out, _, err := extract(t, "", "--bogus")
	if err == nil || err.Error() != "unknown flag --bogus (see --help)" {
		t.Fatalf("err = %v", err)
	}
	if out != "" {
		t.Errorf("stdout %q", out)
	}
}

// A dangling symlink inside a directory is an error that names it.
func TestExtractDanglingSymlink(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.yaml", "image: ghcr.io/acme/a:1\n")
	link := filepath.Join(dir, "b.yaml")
	if err := os.Symlink(filepath.Join(dir, "gone.yaml"), link); err != nil {
		t.Fatal(err)
	}
	out, _, err := extract(t, "", "-f", dir)
	if err == nil || !strings.Contains(err.Error(), link) {
		t.Fatalf("err = %v", err)
	}
	if out != "" {
		t.Errorf("stdout %q", out)
	}
}

// A single 100 MB line is read, not refused, and its reference found.
func TestExtractLongLine(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	p := write(t, t.TempDir(), "long.yaml", "x: "+strings.Repeat("a", 100<<20)+"\nimage: ghcr.io/acme/long@"+dA+"\n")
	out, _, err := extract(t, "", "-f", p)
	if err != nil || out != "ghcr.io/acme/long@"+dA+"\n" {
		t.Fatalf("out %q err %v", out, err)
	}
}

// A named pipe inside a directory is refused at once, naming it: reading it
// would block until something writes to it.
func TestExtractFIFOInDirectory(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.yaml", "image: ghcr.io/acme/a:1\n")
	fifo := filepath.Join(dir, "p.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip("no named pipes here:", err)
	}
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, _, err := extract(t, "", "-R", "-f", dir)
		done <- result{out, err}
	}()
	select {
	case r := <-done:
		want := fifo + ": not a regular file (a named pipe); name it with -f to read it"
		if r.err == nil || r.err.Error() != want || r.out != "" {
			t.Errorf("out %q, err %v\nwant no output and %q", r.out, r.err, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ko-extract hangs on a named pipe in a directory")
	}
}

// A file in a directory that cannot be read: exit 1, the OS error naming
// the file, nothing on stdout (not part of a release). As root the binary
// runs as nobody, so that the permission is real.
func TestExtractUnreadableFile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	top, err := os.MkdirTemp("", "ko-extract-unreadable-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(top) })
	if err := os.Chmod(top, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(top, "ko-extract")
	if b, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	dir := filepath.Join(top, "deploy")
	write(t, dir, "a.yaml", "image: ghcr.io/acme/a:1\n")
	secret := write(t, dir, "b.yaml", "image: ghcr.io/acme/b:1\n")
	if err := os.Chmod(secret, 0); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-f", dir)
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) && cmd.SysProcAttr != nil {
		t.Skipf("cannot start a process as nobody here: %v", err)
	}
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v; stderr %s", err, errb.String())
	}
	if want := "ko-extract: open " + secret + ": permission denied\n"; errb.String() != want || out.Len() != 0 {
		t.Errorf("stdout %q, stderr %q\nwant no output and %q", out.String(), errb.String(), want)
	}
}
