package hermetic

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// TestSetup: with a user's shell exported (the README tells ko users to set
// KO_DOCKER_REPO), credentials in ~/.docker and in REGISTRY_AUTH_FILE, and
// a git configuration that signs every commit with gpg (in ~/.gitconfig, in
// the file GIT_CONFIG_GLOBAL names, and in GIT_CONFIG_COUNT's variables),
// Setup leaves none of it visible to the tools, git included.
func TestSetup(t *testing.T) {
	home := t.TempDir()
	auth := `{"auths":{"registry.example.com":{"auth":"dXNlcjpodW50ZXIy"}}}`
	if err := os.MkdirAll(filepath.Join(home, ".docker"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(home, ".docker", "config.json"), filepath.Join(home, "auth.json")} {
		if err := os.WriteFile(p, []byte(auth), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	gpg := "[commit]\n\tgpgsign = true\n[user]\n\tsigningkey = 0xDEADBEEF\n"
	for _, p := range []string{filepath.Join(home, ".gitconfig"), filepath.Join(home, "signing.gitconfig")} {
		if err := os.WriteFile(p, []byte(gpg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("HOME", home)
	for k, v := range map[string]string{
		"KO_DOCKER_REPO": "gcr.io/mycorp", "KO_DEFAULTBASEIMAGE": "cgr.dev/chainguard/static",
		"DOCKER_CONFIG": filepath.Join(home, ".docker"), "REGISTRY_AUTH_FILE": filepath.Join(home, "auth.json"),
		"COSIGN_PASSWORD": "hunter2", "GITHUB_TOKEN": "t", "AWS_PROFILE": "p",
		"GIT_CONFIG_GLOBAL": filepath.Join(home, "signing.gitconfig"), "GIT_CONFIG_COUNT": "1",
		"GIT_CONFIG_KEY_0": "tag.gpgsign", "GIT_CONFIG_VALUE_0": "true", "GIT_AUTHOR_NAME": "someone",
		"GIT_DIR":         filepath.Join(home, "elsewhere.git"),
		"GITHUB_REF_NAME": "feature", "CI_COMMIT_REF_NAME": "feature", "CI_DEFAULT_BRANCH": "trunk",
	} {
		t.Setenv(k, v)
	}
	t.Setenv("GIT_CONFIG_NOSYSTEM", "") // cleared by t.Setenv's cleanup, unset below
	os.Unsetenv("GIT_CONFIG_NOSYSTEM")
	if resolve(t) == authn.Anonymous {
		t.Fatal("the fixture's credentials are not found before Setup")
	}
	_, gitErr := exec.LookPath("git")
	if gitErr == nil {
		if got := gitConfig(t, "commit.gpgsign", "tag.gpgsign"); got != "true\ntrue" {
			t.Fatalf("before Setup git reads commit.gpgsign and tag.gpgsign = %q, want the fixture's true, true", got)
		}
	} else if os.Getenv("CI") == "true" {
		t.Fatal("git is not on PATH (make tools installs it)")
	}
	dir, err := Setup()
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	for _, k := range []string{"KO_DOCKER_REPO", "KO_DEFAULTBASEIMAGE", "REGISTRY_AUTH_FILE", "COSIGN_PASSWORD", "GITHUB_TOKEN", "AWS_PROFILE",
		"GIT_CONFIG_COUNT", "GIT_CONFIG_KEY_0", "GIT_CONFIG_VALUE_0", "GIT_AUTHOR_NAME", "GIT_DIR",
		"GITHUB_REF_NAME", "CI_COMMIT_REF_NAME", "CI_DEFAULT_BRANCH"} {
		if v, ok := os.LookupEnv(k); ok {
			t.Errorf("%s=%q after Setup, want it unset", k, v)
		}
	}
	for k, want := range map[string]string{"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"} {
		if got := os.Getenv(k); got != want {
			t.Errorf("%s=%q after Setup, want %q", k, got, want)
		}
	}
	if gitErr == nil {
		if got := gitConfig(t, "commit.gpgsign", "tag.gpgsign"); got != "" {
			t.Errorf("after Setup git still reads the user's configuration: commit.gpgsign, tag.gpgsign = %q, want neither set", got)
		}
	}
	if got := os.Getenv("DOCKER_CONFIG"); got != dir {
		t.Errorf("DOCKER_CONFIG=%q, want %q", got, dir)
	}
	if a := resolve(t); a != authn.Anonymous {
		cfg, _ := a.Authorization()
		t.Errorf("the docker keychain found credentials after Setup: %+v", cfg)
	}
}

func resolve(t *testing.T) authn.Authenticator {
	t.Helper()
	a, err := authn.DefaultKeychain.Resolve(name.MustParseReference("registry.example.com/app:1").Context())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// gitConfig returns the values git reads for keys in a new repository, one
// a line, leaving out the unset ones.
func gitConfig(t *testing.T, keys ...string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("git", "init", "-q", dir).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	var got []string
	for _, k := range keys {
		cmd := exec.Command("git", "config", "--get", k)
		cmd.Dir = dir
		out, err := cmd.Output()
		if exit, ok := err.(*exec.ExitError); ok && exit.ExitCode() == 1 {
			continue // unset
		}
		if err != nil {
			t.Fatalf("git config --get %s: %v", k, err)
		}
		got = append(got, strings.TrimSpace(string(out)))
	}
	return strings.Join(got, "\n")
}
