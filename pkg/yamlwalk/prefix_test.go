package yamlwalk

import (
	"fmt"
	"testing"
)

// TestPrefixHolds: prefixes match as a registry reads references, by whole
// path components, and a Docker Hub prefix of one component also names the
// official image of that name (issue 21: --prefix mariadb selected nothing).
func TestPrefixHolds(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		holds  []string
		not    []string
	}{
		{"mariadb",
			[]string{"mariadb", "docker.io/mariadb", "docker.io/library/mariadb", "index.docker.io/library/mariadb", "mariadb/maxscale", "docker.io/mariadb/maxscale"},
			[]string{"mariadbx", "library/mariadb-backup", "quay.io/mariadb", "library/mariadb/x", "maria"}},
		{"docker.io/mariadb",
			[]string{"mariadb", "library/mariadb", "mariadb/maxscale"},
			[]string{"mariadbx", "quay.io/mariadb/maxscale"}},
		{"index.docker.io/mariadb/",
			[]string{"mariadb", "mariadb/maxscale"},
			[]string{"mariadbx"}},
		// library/mariadb is the official image only, not the namespace.
		{"library/mariadb",
			[]string{"mariadb", "docker.io/mariadb", "docker.io/library/mariadb"},
			[]string{"mariadb/maxscale", "mariadbx"}},
		{"docker.io/library/mariadb",
			[]string{"mariadb", "index.docker.io/library/mariadb"},
			[]string{"mariadb/maxscale"}},
		// A prefix matches whole path components: maria is not mariadb.
		{"maria",
			[]string{"maria", "maria/db"},
			[]string{"mariadb", "docker.io/mariadb", "mariadb/maxscale", "library/mariadb"}},
		{"docker.io/library",
			[]string{"nginx", "library/nginx", "docker.io/nginx"},
			[]string{"acme/app", "quay.io/library/nginx"}},
		{"library",
			[]string{"nginx", "library/nginx"},
			[]string{"acme/app"}},
		{"docker.io",
			[]string{"nginx", "acme/app", "docker.io/acme/app"},
			[]string{"quay.io/acme/app"}},
		{"ghcr.io/acme",
			[]string{"ghcr.io/acme", "ghcr.io/acme/app"},
			[]string{"acme", "acme/app", "ghcr.io/acmex"}},
	} {
		s := newPrefixSet([]string{tc.prefix}, true)
		for _, repo := range tc.holds {
			if !s.holds(repo) {
				t.Errorf("--prefix %s does not hold %s, want it to", tc.prefix, repo)
			}
			if !s.mayHold(repo + ":1") {
				t.Errorf("--prefix %s: the cheap gate refuses %s:1", tc.prefix, repo)
			}
		}
		for _, repo := range tc.not {
			if s.holds(repo) {
				t.Errorf("--prefix %s holds %s, want it not to", tc.prefix, repo)
			}
		}
	}
}

// TestPrefixNamespaceOnly: without OfficialImages (ko's $KO_DOCKER_REPO, a
// user's namespace), and for tokens of a longer string with it, a
// one-component Docker Hub prefix is the namespace alone: docker.io/alice
// holds alice/app, not "alice:staff" (issue 21 review: chown alice:alice,
// --basic-auth=alice:s3cret and alice:staff were selected).
func TestPrefixNamespaceOnly(t *testing.T) {
	holds := []string{"alice/app", "docker.io/alice/app", "index.docker.io/alice/app"}
	not := []string{"alice", "docker.io/alice", "library/alice", "docker.io/library/alice", "index.docker.io/library/alice"}
	for _, prefix := range []string{"alice", "docker.io/alice", "index.docker.io/alice"} {
		ns := newPrefixSet([]string{prefix}, false)
		official := newPrefixSet([]string{prefix}, true)
		for _, repo := range holds {
			if !ns.holds(repo) || !official.holdsNamespace(repo) {
				t.Errorf("prefix %s: %s not held as a namespace", prefix, repo)
			}
		}
		for _, repo := range not {
			if ns.holds(repo) {
				t.Errorf("prefix %s without official images holds %s", prefix, repo)
			}
			if official.holdsNamespace(repo) {
				t.Errorf("prefix %s holds %s as a namespace (a token's test)", prefix, repo)
			}
			if !official.holds(repo) {
				t.Errorf("prefix %s with official images does not hold %s", prefix, repo)
			}
		}
	}
}

// TestBare: Walker.Bare hears of every whole string and image map under a
// prefix that is not selected for naming a bare repository, and of nothing
// else (selected references, tokens, references under no prefix).
func TestBare(t *testing.T) {
	src := `apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImageRepository
spec:
  image: ghcr.io/acme/podinfo
  other: "ghcr.io/acme/tool"
  args: ["--repo=ghcr.io/acme/token"]
  selected: ghcr.io/acme/app:1
  elsewhere: ghcr.io/other/app
  map:
    repository: ghcr.io/acme/chart
    tag: ""
`
	var got []string
	w := &Walker{Prefixes: []string{"ghcr.io/acme"}, Bare: func(file string, line, column int, repo string) {
		got = append(got, fmt.Sprintf("%s:%d:%d %s", file, line, column, repo))
	}}
	if _, err := w.Collect("f.yaml", []byte(src)); err != nil {
		t.Fatal(err)
	}
	want := []string{"f.yaml:4:10 ghcr.io/acme/podinfo", "f.yaml:5:10 ghcr.io/acme/tool", "f.yaml:10:17 ghcr.io/acme/chart"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %q, want %q", got, want)
	}
	got = nil
	w.Prefixes = nil
	if _, err := w.Collect("f.yaml", []byte(src)); err != nil || got != nil {
		t.Errorf("without prefixes: err %v, got %q", err, got)
	}
}
