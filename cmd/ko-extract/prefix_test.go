package main

import "testing"

// t7 is the review's file: Docker Hub user alice's image, and strings
// that read as official images of the name alice (a user and group, a name
// and password).
const t7 = `spec:
  containers:
  - image: docker.io/alice/app:1
    command: ["sh", "-c", "chown alice:alice /data && exec app"]
    args: ["--basic-auth=alice:s3cret"]
    env:
    - {name: OWNER, value: "alice:staff"}
`

// TestExtractKoDockerRepoIsANamespace: $KO_DOCKER_REPO=docker.io/alice is
// where ko pushes, alice's namespace; it never names the official image
// library/alice (issue 21 review: alice:alice, alice:s3cret and alice:staff
// were printed). An explicit --prefix alice names the image too, in whole
// strings only: "alice:staff" is selected, the tokens of longer strings are not.
func TestExtractKoDockerRepoIsANamespace(t *testing.T) {
	f := write(t, t.TempDir(), "t7.yaml", t7)
	for _, env := range []string{"docker.io/alice", "alice", "index.docker.io/alice"} {
		out, stderr, err := extract(t, env, "-f", f)
		if err != nil || out != "docker.io/alice/app:1\n" || stderr != "" {
			t.Errorf("KO_DOCKER_REPO=%s: err %v, out %q, stderr %q", env, err, out, stderr)
		}
	}
	out, stderr, err := extract(t, "", "-f", f, "--prefix", "alice")
	if err != nil || out != "docker.io/alice/app:1\nalice:staff\n" || stderr != "" {
		t.Errorf("--prefix alice: err %v, out %q, stderr %q", err, out, stderr)
	}
}

// TestExtractPrefixHoldsOnlyBareRepositories: a prefix under which the
// input names only repositories without a tag or digest (a Flux
// ImageRepository's spec.image, a bare image:) is right, not a typo: the
// warning says so, with where they are, instead of "check it for a typo".
func TestExtractPrefixHoldsOnlyBareRepositories(t *testing.T) {
	dir := t.TempDir()
	f := write(t, dir, "flux.yaml", `apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImageRepository
metadata:
  name: podinfo
spec:
  image: ghcr.io/stefanprodan/podinfo
  interval: 5m
---
apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      containers:
      - image: ghcr.io/stefanprodan/podinfo
        name: podinfo
      - image: "ghcr.io/stefanprodan/sidecar"
      - image: ghcr.io/stefanprodan/x
      - image: ghcr.io/acme/app
`)
	out, stderr, err := extract(t, "", "-f", f, "--prefix", "ghcr.io/stefanprodan", "--prefix", "ghcr.io/acmee")
	want := `ko-extract: warning: --prefix "ghcr.io/stefanprodan" holds only repositories without a tag or digest (` + f + `:6:10, ` + f + `:15:16, ` + f + `:17:16, and 1 more); nothing to rebase` + "\n" +
		`ko-extract: warning: --prefix "ghcr.io/acmee" selects nothing in the input; check it for a typo (prefixes match as a registry reads them: docker.io/acme holds acme/app)` + "\n"
	if err != nil || out != "" || stderr != want {
		t.Errorf("err %v, out %q\n got %s\nwant %s", err, out, stderr, want)
	}
	// $KO_DOCKER_REPO is named as such; a Helm map without a tag is bare too.
	v := write(t, dir, "values.yaml", "image:\n  repository: ghcr.io/acme/app\n  tag: \"\"\n")
	out, stderr, err = extract(t, "ghcr.io/acme", "-f", v)
	want = `ko-extract: warning: $KO_DOCKER_REPO "ghcr.io/acme" holds only repositories without a tag or digest (` + v + `:2:15); nothing to rebase` + "\n"
	if err != nil || out != "" || stderr != want {
		t.Errorf("err %v, out %q\n got %s\nwant %s", err, out, stderr, want)
	}
}
