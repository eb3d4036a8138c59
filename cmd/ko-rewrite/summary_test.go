package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRewriteSummary: per file changed, each changed line with the old and
// the new reference; a split reference's field written, with its line in
// the new file (a kustomize entry's new digest: line counts); a file left
// alone is not listed.
func TestRewriteSummary(t *testing.T) {
	dir := t.TempDir()
	rel := write(t, dir, "release.yaml", release)
	vals := write(t, dir, "values.yaml", values)
	kust := write(t, dir, "kustomization.yaml", "images:\n- name: ghcr.io/acme/side\n  newTag: v2\n")
	other := write(t, dir, "other.yaml", "image: docker.io/library/redis:7\n")
	sum := filepath.Join(dir, "summary.md")
	pairs := write(t, dir, "pairs.txt", "ghcr.io/acme/app@"+dA+" ghcr.io/acme/app@"+dC+"\n"+
		"docker.io/bitnami/postgresql:17.5.0@"+dA+" docker.io/bitnami/postgresql:17.5.0@"+dB+"\n"+
		"ghcr.io/acme/side:v2 ghcr.io/acme/side:v2@"+dB+"\n")
	_, _, err := kr(t, "-f", rel, "-f", vals, "-f", kust, "-f", other, "--images", pairs, "-i", "--summary", sum, "--prefix", "ghcr.io/acme", "--prefix", "docker.io/bitnami")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(sum)
	if err != nil {
		t.Fatal(err)
	}
	want := "# Rewrite summary\n\n" +
		"## `" + rel + "`\n\n" +
		"- line 8: `ghcr.io/acme/app@" + dA + "` -> `ghcr.io/acme/app@" + dC + "`\n" +
		"- line 10: `ghcr.io/acme/app@" + dA + "` -> `ghcr.io/acme/app@" + dC + "`\n\n" +
		"## `" + vals + "`\n\n" +
		"- line 5, digest of `docker.io/bitnami/postgresql:17.5.0@" + dA + "`: `" + dA + "` -> `" + dB + "`\n\n" +
		"## `" + kust + "`\n\n" +
		"- line 4, digest of `ghcr.io/acme/side:v2`: (none) -> `" + dB + "`\n\n" +
		"4 reference(s) changed in 3 of 4 file(s).\n"
	// other.yaml holds nothing under the prefixes: not listed.
	if string(got) != want {
		t.Errorf("summary:\n%s\nwant:\n%s", got, want)
	}
}

func TestRewriteSummaryNothingChanged(t *testing.T) {
	dir := t.TempDir()
	other := write(t, dir, "other.yaml", "image: docker.io/library/redis:7\n")
	sum := filepath.Join(dir, "summary.md")
	if _, _, err := kr(t, "-f", other, "--images", write(t, dir, "p.txt", "docker.io/library/redis:7 docker.io/library/redis:7\n"), "--summary", sum); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(sum)
	if want := "# Rewrite summary\n\nNo reference changed.\n\n0 reference(s) changed in 0 of 1 file(s).\n"; string(got) != want {
		t.Errorf("summary %q, want %q", got, want)
	}
}

func TestRewriteSummaryUnwritable(t *testing.T) {
	dir := t.TempDir()
	rel := write(t, dir, "release.yaml", release)
	pairs := write(t, dir, "pairs.txt", "ghcr.io/acme/app@"+dA+" ghcr.io/acme/app@"+dC+"\n")
	_, _, err := kr(t, "-f", rel, "--images", pairs, "-i", "--summary", filepath.Join(dir, "no", "s.md"))
	if err == nil || err.Error() != "--summary: cannot create "+filepath.Join(dir, "no", "s.md")+": "+filepath.Join(dir, "no")+": no such file or directory; nothing written" {
		t.Errorf("err %v", err)
	}
	if b, _ := os.ReadFile(rel); string(b) != release {
		t.Error("release.yaml written")
	}
}
