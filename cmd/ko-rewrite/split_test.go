package main

import (
	"os"
	"strings"
	"testing"
)

const values = `image:
  registry: docker.io
  repository: bitnami/postgresql
  tag: "17.5.0"
  digest: "` + dA + `"
`

// TestRewriteSplit: a Helm image map takes the new digest in its digest
// field; a tagless replacement keeps the tag.
func TestRewriteSplit(t *testing.T) {
	dir := t.TempDir()
	f := write(t, dir, "values.yaml", values)
	want := strings.Replace(values, dA, dB, 1)
	for _, nw := range []string{"docker.io/bitnami/postgresql:17.5.0@" + dB, "docker.io/bitnami/postgresql@" + dB, "index.docker.io/bitnami/postgresql:17.5.0@" + dB} {
		out, _, err := kr(t, "-f", f, "--images", write(t, dir, "new.txt", nw+"\n"))
		if err != nil || out != want {
			t.Errorf("%s: err %v, out:\n%s", nw, err, out)
		}
	}
}

// TestRewriteSplitRefusals: a split reference's repository and tag are never
// rewritten, not even with --allow-repo-change.
func TestRewriteSplitRefusals(t *testing.T) {
	dir := t.TempDir()
	f := write(t, dir, "values.yaml", values)
	old := "docker.io/bitnami/postgresql:17.5.0@" + dA
	for _, tc := range []struct{ nw, msg string }{
		{"ghcr.io/acme/postgresql:17.5.0@" + dB, `values.yaml:3:15: "` + old + `" would be replaced by "ghcr.io/acme/postgresql:17.5.0@` + dB + `", an image in another repository: the registry and repository of a reference written in parts are never rewritten, not even with --allow-repo-change; edit them by hand`},
		{"docker.io/bitnami/postgresql:18.0@" + dB, `values.yaml:3:15: "` + old + `" would be replaced by "docker.io/bitnami/postgresql:18.0@` + dB + `", which has another tag: the tag of a split reference is only pinned, never changed; edit it by hand`},
	} {
		for _, allow := range []bool{false, true} {
			args := []string{"-f", f, "--images", write(t, dir, "new.txt", tc.nw+"\n")}
			if allow {
				args = append(args, "--allow-repo-change")
			}
			out, _, err := kr(t, args...)
			if err == nil || out != "" || err.Error() != f[:len(f)-len("values.yaml")]+tc.msg {
				t.Errorf("allow=%v: err %v\nwant %s", allow, err, tc.msg)
			}
		}
	}
}

// TestRewriteUnusedPrefix: a prefix that selects nothing is warned about.
func TestRewriteUnusedPrefix(t *testing.T) {
	dir := t.TempDir()
	f := write(t, dir, "values.yaml", values)
	_, stderr, err := kr(t, "-f", f, "--images", write(t, dir, "new.txt", ""), "--prefix", "docker.io/bitnamii")
	want := `ko-rewrite: warning: --prefix "docker.io/bitnamii" selects nothing in the input; check it for a typo (prefixes match as a registry reads them: docker.io/acme holds acme/app)` + "\n"
	if err != nil || stderr != want {
		t.Errorf("err %v, stderr %q", err, stderr)
	}
}

// TestRewriteSplitREADME is the README's ko-rewrite example: `digest: ""`
// keeps its quotes.
func TestRewriteSplitREADME(t *testing.T) {
	dir := t.TempDir()
	in := "image:\n  registry: docker.io\n  repository: bitnami/postgresql\n  tag: 17.5.0\n  digest: \"\"\n"
	f := write(t, dir, "values.yaml", in)
	_, _, err := kr(t, "-f", f, "--prefix", "docker.io/bitnami", "--images", write(t, dir, "new.txt", "docker.io/bitnami/postgresql:17.5.0@"+dB+"\n"), "-i")
	got, _ := os.ReadFile(f)
	if want := strings.Replace(in, `digest: ""`, `digest: "`+dB+`"`, 1); err != nil || string(got) != want {
		t.Errorf("err %v:\n%s", err, got)
	}
}
