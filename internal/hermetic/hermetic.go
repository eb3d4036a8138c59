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
// outcome. The Go toolchain's own variables are left alone.
var Vars = []string{
	"KO_DOCKER_REPO", "COSIGN_PASSWORD", "REGISTRY_AUTH_FILE",
	"GITHUB_TOKEN", "GITHUB_ACTOR", "GOOGLE_APPLICATION_CREDENTIALS",
	"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE",
}

// Prefixes are the prefixes of the other variables Main unsets: ko's
// (KO_DEFAULTBASEIMAGE, KO_CONFIG_PATH, ...), cosign's and sigstore's, and
// the AWS and Azure keychains'.
var Prefixes = []string{"KO_", "COSIGN_", "SIGSTORE_", "AWS_", "AZURE_"}

// Main runs a test binary's tests in a hermetic environment: it unsets Vars
// and every variable with one of Prefixes, and points DOCKER_CONFIG at a
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
