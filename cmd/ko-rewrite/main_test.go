package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	dA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	dB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	dC = "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
)

const release = `# release
apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      containers:
      - image: ghcr.io/acme/app@` + dA + `  # the app
        args: ["-sidecar", "ghcr.io/acme/side@` + dB + `"]
      - image: 'ghcr.io/acme/app@` + dA + `'
---
kind: Pod
spec:
  containers:
  - {name: cache, image: docker.io/library/redis:7}
`

func kr(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	t.Setenv("KO_DOCKER_REPO", "")
	a := app()
	var out, errb bytes.Buffer
	a.Writer, a.ErrWriter = &out, &errb
	err := a.Run(append([]string{"ko-rewrite"}, args...))
	return out.String(), errb.String(), err
}

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRewriteForms(t *testing.T) {
	dir := t.TempDir()
	rel := write(t, dir, "release.yaml", release)
	newApp := "ghcr.io/acme/app@" + dC
	want := strings.ReplaceAll(release, "app@"+dA, "app@"+dC)

	// NEW form: line k replaces the k-th unique reference.
	imgs := write(t, dir, "new.txt", newApp+"\n\nghcr.io/acme/side@"+dB+"\ndocker.io/library/redis:7\n")
	out, _, err := kr(t, "-f", rel, "--images", imgs)
	if err != nil {
		t.Fatal(err)
	}
	if out != want {
		t.Errorf("NEW form:\n%s\nwant\n%s", out, want)
	}

	// OLD NEW form: only the listed reference changes.
	pairs := write(t, dir, "pairs.txt", "ghcr.io/acme/app@"+dA+" "+newApp+"\n")
	out, _, err = kr(t, "-f", rel, "--images", pairs)
	if err != nil {
		t.Fatal(err)
	}
	if out != want {
		t.Errorf("OLD NEW form:\n%s\nwant\n%s", out, want)
	}
}

func TestRewriteRefusals(t *testing.T) {
	dir := t.TempDir()
	rel := write(t, dir, "release.yaml", release)
	for _, tc := range []struct {
		name, images string
		args         []string
		msg          string
	}{
		{"truncated", "ghcr.io/acme/app@" + dC + "\n", nil, "the images stream has 1 reference(s) but the input selects 3"},
		{"too many", strings.Repeat("ghcr.io/acme/app@"+dC+"\n", 4), nil, "the images stream has 4 reference(s) but the input selects 3"},
		{"other repo", "ghcr.io/evil/app@" + dC + "\nghcr.io/acme/side@" + dB + "\ndocker.io/library/redis:7\n", nil,
			`release.yaml:8:16: "ghcr.io/acme/app@` + dA + `" would be replaced by "ghcr.io/evil/app@` + dC + `", an image in another repository`},
		{"not a ref", "ghcr.io/acme/app@sha256:abc\n", nil, `images line 1: "ghcr.io/acme/app@sha256:abc" is not an image reference`},
		{"mixed forms", "a:1 b:1\nc:1\n", nil, "images line 2: 1 field(s), but earlier lines have 2"},
		{"unknown old", "ghcr.io/acme/nope:1 ghcr.io/acme/nope:2\n", nil, `images line 1: "ghcr.io/acme/nope:1" is not selected in the input`},
		{"two news", "ghcr.io/acme/side@" + dB + " ghcr.io/acme/side@" + dA + "\nghcr.io/acme/side@" + dB + " ghcr.io/acme/side@" + dC + "\n", nil, "is given two replacements"},
		{"in place and several inputs", "x:1\n", []string{"-f", rel}, "2 input files: use -i"},
		// A stream cut mid-line, before the "@" of its last reference: the
		// count and the repository still match.
		{"cut mid-line", "ghcr.io/acme/app@" + dC + "\nghcr.io/acme/side@" + dB + "\ndocker.io/library/re", nil,
			"images line 3: the stream ends without a newline, so this line may be cut off: nothing written"},
		{"cut before the digest", "ghcr.io/acme/app\nghcr.io/acme/side@" + dB + "\ndocker.io/library/redis:7\n", nil,
			`release.yaml:8:16: "ghcr.io/acme/app@` + dA + `" would be replaced by "ghcr.io/acme/app", which drops its digest: the images stream may be cut off or garbled (images line 1)`},
		{"pair drops the digest", "ghcr.io/acme/side@" + dB + " ghcr.io/acme/side:latest\n", nil,
			`"ghcr.io/acme/side@` + dB + `" would be replaced by "ghcr.io/acme/side:latest", which drops its digest`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			imgs := write(t, t.TempDir(), "images.txt", tc.images)
			args := append([]string{"-f", rel, "--images", imgs}, tc.args...)
			if tc.name == "in place and several inputs" {
				other := write(t, t.TempDir(), "other.yaml", "image: x:1\n")
				args = append(args, "-f", other)
			}
			out, _, err := kr(t, args...)
			if err == nil {
				t.Fatalf("no error; output:\n%s", out)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q\nwant it to contain %q", err, tc.msg)
			}
			if out != "" {
				t.Errorf("wrote output on refusal: %q", out)
			}
			if b, _ := os.ReadFile(rel); string(b) != release {
				t.Errorf("input changed")
			}
		})
	}
	// --allow-repo-change lets the relocation through.
	imgs := write(t, dir, "moved.txt", "ghcr.io/evil/app@"+dC+"\nghcr.io/acme/side@"+dB+"\ndocker.io/library/redis:7\n")
	if _, _, err := kr(t, "-f", rel, "--images", imgs, "--allow-repo-change"); err != nil {
		t.Fatal(err)
	}
}

func TestRewriteInPlace(t *testing.T) {
	dir := t.TempDir()
	a := write(t, dir, "a.yaml", release)
	b := write(t, dir, "b.yaml", "image: docker.io/library/redis:7\n")
	c := write(t, dir, "c.yaml", "kind: Nothing\n")
	old := time.Now().Add(-time.Hour)
	for _, p := range []string{a, b, c} {
		os.Chtimes(p, old, old)
	}
	imgs := write(t, t.TempDir(), "pairs.txt", "ghcr.io/acme/side@"+dB+" ghcr.io/acme/side@"+dC+"\n")
	_, stderr, err := kr(t, "-R", "-f", dir, "--images", imgs, "-i")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "1 of 3 file(s) changed") {
		t.Errorf("stderr %q", stderr)
	}
	got, _ := os.ReadFile(a)
	if want := strings.ReplaceAll(release, "side@"+dB, "side@"+dC); string(got) != want {
		t.Errorf("a.yaml:\n%s", got)
	}
	fi, _ := os.Stat(a)
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode().Perm())
	}
	for _, p := range []string{b, c} {
		if fi, _ := os.Stat(p); !fi.ModTime().Equal(old) {
			t.Errorf("%s was rewritten though nothing in it changed", p)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*rebasekit*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestRewriteSymlinkOutOfTree(t *testing.T) {
	outside := write(t, t.TempDir(), "outside.yaml", "image: docker.io/library/redis:7\n")
	dir := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "link.yaml")); err != nil {
		t.Fatal(err)
	}
	imgs := write(t, t.TempDir(), "pairs.txt", "docker.io/library/redis:7 docker.io/library/redis:8\n")
	_, _, err := kr(t, "-f", dir, "--images", imgs, "-i")
	if err == nil || !strings.Contains(err.Error(), "outside the directories given; refusing to write through it") {
		t.Fatalf("err = %v", err)
	}
	if b, _ := os.ReadFile(outside); string(b) != "image: docker.io/library/redis:7\n" {
		t.Errorf("file outside the tree changed")
	}
	// Named directly, the link is written through and stays a link.
	link := filepath.Join(dir, "link.yaml")
	if _, _, err := kr(t, "-f", link, "--images", imgs, "-i"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(outside); string(b) != "image: docker.io/library/redis:8\n" {
		t.Errorf("outside.yaml = %q", b)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symlink was replaced by a file")
	}
}

// Bad input to ko-rewrite -i: FILE:LINE:COL, exit 1, the file untouched.
// The walker is ko-extract's, so the messages are the same.
func TestRewriteInvalidYAML(t *testing.T) {
	var bomb strings.Builder
	bomb.WriteString("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n")
	for i := 'b'; i <= 'z'; i++ {
		p := "*" + string(i-1)
		bomb.WriteString(string(i) + ": &" + string(i) + " [" + strings.Repeat(p+",", 8) + p + "]\n")
	}
	bomb.WriteString("image: ghcr.io/acme/bomb:1\n")
	for _, tc := range []struct{ name, content, images, msg, want string }{
		{"unclosed flow", "a: b\nc: [d\ne: f\n", "", "bad.yaml:1:1: did not find expected ',' or ']'", ""},
		{"binary", "image: ghcr.io/acme/a:1\n\x00\x01", "ghcr.io/acme/a:2\n", "bad.yaml:2:1: control characters are not allowed (byte 0x00)", ""},
		{"not utf-8", "image: ghcr.io/acme/a:1\nc: \xff\xfe\n", "ghcr.io/acme/a:2\n", "bad.yaml:2:4: invalid UTF-8 (byte 0xff)", ""},
		{"deep nesting", strings.Repeat("[", 20000) + strings.Repeat("]", 20000), "", "exceeded max depth", ""},
		{"a later document broken", "image: ghcr.io/acme/a:1\n---\nkey: [\n", "ghcr.io/acme/a:2\n", "bad.yaml:3:1: did not find expected node content", ""},
		{"alias bomb is walked once", bomb.String(), "ghcr.io/acme/bomb:2\n", "", strings.Replace(bomb.String(), "bomb:1", "bomb:2", 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			bad := write(t, dir, "bad.yaml", tc.content)
			imgs := write(t, dir, "i.txt", tc.images)
			out, _, err := kr(t, "-i", "-f", bad, "--images", imgs)
			got, _ := os.ReadFile(bad)
			if tc.msg == "" {
				if err != nil || string(got) != tc.want {
					t.Fatalf("err %v; file now\n%.200s", err, got)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), bad+":") || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v\nwant %q", err, tc.msg)
			}
			if out != "" || string(got) != tc.content {
				t.Errorf("stdout %q; file changed: %v", out, string(got) != tc.content)
			}
		})
	}
}

// A tag field that YAML reads as a float (tag: 1.20) becomes a string when
// the digest is spliced in: "1.20@sha256:..." needs no quotes.
func TestRewriteFloatTagMarker(t *testing.T) {
	dir := t.TempDir()
	src := "image:\n  repository: ghcr.io/acme/app # {\"$rebase\": \"app:name\"}\n  tag: 1.20 # {\"$rebase\": \"app:tag\"}\n"
	p := write(t, dir, "values.yaml", src)
	imgs := write(t, dir, "i.txt", "ghcr.io/acme/app:1.20@"+dC+"\n")
	out, _, err := kr(t, "-f", p, "--images", imgs)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(src, "tag: 1.20 ", "tag: 1.20@"+dC+" ", 1)
	if out != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}
