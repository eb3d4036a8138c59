package main

import (
	"path/filepath"
	"testing"
)

// TestExtractSplit: split references print composed; -o json names the
// repository field's position and the rule split.
func TestExtractSplit(t *testing.T) {
	dir := t.TempDir()
	v := write(t, dir, "values.yaml", "app:\n  image:\n    repository: ghcr.io/home-operations/radarr\n    tag: 6.4.1@"+dA+"\n")
	k := write(t, dir, "k/kustomization.yaml", "images:\n- name: app\n  newName: acme/app\n  newTag: v1\n")
	out, _, err := extract(t, "", "-f", v, "-o", "json")
	want := `{"file":"` + v + `","line":3,"column":17,"doc":0,"path":"app.image.repository","rule":"split","ref":"ghcr.io/home-operations/radarr:6.4.1@` + dA + `"}` + "\n"
	if err != nil || out != want {
		t.Errorf("err %v\n got %s\nwant %s", err, out, want)
	}
	// Prefixes as a registry reads them: docker.io/acme holds acme/app.
	for _, p := range []string{"docker.io/acme", "index.docker.io/acme", "acme"} {
		out, stderr, err := extract(t, p, "-f", filepath.Dir(k))
		if err != nil || out != "acme/app:v1\n" || stderr != "" {
			t.Errorf("KO_DOCKER_REPO=%s: err %v, out %q, stderr %q", p, err, out, stderr)
		}
	}
}

// TestExtractUnusedPrefix: a prefix that selects nothing in the whole input
// draws one warning naming it.
func TestExtractUnusedPrefix(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.yaml", "image: acme/app:1\n")
	write(t, dir, "b.yaml", "image: nginx:1\n")
	out, stderr, err := extract(t, "docker.io/acmee", "-f", dir)
	want := `ko-extract: warning: $KO_DOCKER_REPO "docker.io/acmee" selects nothing in the input; check it for a typo (prefixes match as a registry reads them: docker.io/acme holds acme/app)` + "\n"
	if err != nil || out != "" || stderr != want {
		t.Errorf("err %v, out %q, stderr %q", err, out, stderr)
	}
	out, stderr, err = extract(t, "", "-f", dir, "--prefix", "docker.io/library", "--prefix", "docker.io/acme")
	if err != nil || out != "acme/app:1\nnginx:1\n" || stderr != "" {
		t.Errorf("err %v, out %q, stderr %q", err, out, stderr)
	}
}

// TestExtractSplitREADME is the README's ko-extract example.
func TestExtractSplitREADME(t *testing.T) {
	dir := t.TempDir()
	f := write(t, dir, "values.yaml", "image:\n  registry: docker.io\n  repository: bitnami/postgresql\n  tag: 17.5.0\n  digest: \"\"\n")
	out, stderr, err := extract(t, "", "-f", f, "--prefix", "docker.io/bitnami")
	if err != nil || out != "docker.io/bitnami/postgresql:17.5.0\n" || stderr != "" {
		t.Errorf("err %v, out %q, stderr %q", err, out, stderr)
	}
}
