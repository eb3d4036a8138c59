package hermetic

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// TestSetup: with a user's shell exported (the README tells ko users to set
// KO_DOCKER_REPO) and credentials in ~/.docker and in REGISTRY_AUTH_FILE,
// Setup leaves none of it visible to the tools.
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
	t.Setenv("HOME", home)
	for k, v := range map[string]string{
		"KO_DOCKER_REPO": "gcr.io/mycorp", "KO_DEFAULTBASEIMAGE": "cgr.dev/chainguard/static",
		"DOCKER_CONFIG": filepath.Join(home, ".docker"), "REGISTRY_AUTH_FILE": filepath.Join(home, "auth.json"),
		"COSIGN_PASSWORD": "hunter2", "GITHUB_TOKEN": "t", "AWS_PROFILE": "p",
	} {
		t.Setenv(k, v)
	}
	if resolve(t) == authn.Anonymous {
		t.Fatal("the fixture's credentials are not found before Setup")
	}
	dir, err := Setup()
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	for _, k := range []string{"KO_DOCKER_REPO", "KO_DEFAULTBASEIMAGE", "REGISTRY_AUTH_FILE", "COSIGN_PASSWORD", "GITHUB_TOKEN", "AWS_PROFILE"} {
		if v, ok := os.LookupEnv(k); ok {
			t.Errorf("%s=%q after Setup, want it unset", k, v)
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
