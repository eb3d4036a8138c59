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
