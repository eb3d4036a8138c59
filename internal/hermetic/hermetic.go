// Package hermetic makes a test binary's environment independent of the
// shell it was started from. The tools read KO_DOCKER_REPO (the default
// --prefix), the docker config and the other keychains' variables, and
// COSIGN_PASSWORD; a user who exported them as the README says must get the
// same test results as CI. Tests that need one of them set it themselves
// (t.Setenv, or cmd.Env), which then wins.
package hermetic

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Vars are the variables Main unsets: everything the three tools, the
// libraries they call (go-containerregistry's keychains) and the tools the
// end-to-end tests run (ko, cosign, git) read that would change a test's
// outcome. The Go toolchain's own variables are left alone, and so is CI
// (CI=true makes a missing tool fail the tests instead of skipping them).
var Vars = []string{
	"KO_DOCKER_REPO", "COSIGN_PASSWORD", "REGISTRY_AUTH_FILE",
	"GITHUB_TOKEN", "GITHUB_ACTOR", "GOOGLE_APPLICATION_CREDENTIALS",
	// The branch examples/gitops-rebase.sh --pr proposes to from a
	// detached HEAD: a test run inside a CI job must not inherit the job's.
	"GITHUB_BASE_REF", "GITHUB_REF_NAME", "GITHUB_REF_TYPE",
	"CI_COMMIT_REF_NAME", "CI_COMMIT_TAG", "CI_DEFAULT_BRANCH",
}

// Prefixes are the prefixes of the other variables Main unsets: ko's
// (KO_DEFAULTBASEIMAGE, KO_CONFIG_PATH, ...), cosign's and sigstore's, the
// AWS and Azure keychains', and git's (GIT_DIR, GIT_AUTHOR_NAME,
// GIT_CONFIG_COUNT and its GIT_CONFIG_KEY_0, ...).
var Prefixes = []string{"KO_", "COSIGN_", "SIGSTORE_", "AWS_", "AZURE_", "GIT_"}

// Git is what Setup sets for git, after clearing every GIT_ variable: no
// user's ~/.gitconfig (or the file a GIT_CONFIG_GLOBAL names) nor
// /etc/gitconfig is read, so a commit.gpgsign=true, a hook path or an
// url.insteadOf of the user's never reaches the repositories the tests
// make. Those set their own user.name and user.email.
var Git = []string{"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1"}

// Main runs a test binary's tests in a hermetic environment: it unsets Vars
// and every variable with one of Prefixes, sets Git, and points DOCKER_CONFIG at a
// directory holding an empty config.json. go-containerregistry's docker
// keychain then reads that file and nothing else: neither
// ~/.docker/config.json nor a podman auth.json, which it reads only when no
// docker config is found. Child processes inherit it. Use it as TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(hermetic.Main(m)) }
func Main(m *testing.M) int {
	dir, err := Setup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "hermetic:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	return m.Run()
}

// Setup does what Main does before running the tests and returns the
// DOCKER_CONFIG directory it made, which the caller removes.
func Setup() (string, error) {
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if cleared(k) {
			os.Unsetenv(k)
		}
	}
	dir, err := os.MkdirTemp("", "rebasekit-hermetic-")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte("{}\n"), 0o600); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	os.Setenv("DOCKER_CONFIG", dir)
	for _, kv := range Git {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
	return dir, nil
}

func cleared(k string) bool {
	for _, v := range Vars {
		if k == v {
			return true
		}
	}
	for _, p := range Prefixes {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}
