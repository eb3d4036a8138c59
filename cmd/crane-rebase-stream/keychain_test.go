package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// The keychain's order, as ko's: the docker config answers for any host it
// has; GitHub's token answers for ghcr.io when the docker config has
// nothing for it; a host nobody knows is anonymous. (The ECR, Google and
// ACR keychains answer only for their clouds' hosts, whose credential
// chains reach metadata servers: not exercised here.)
func TestKeychainOrder(t *testing.T) {
	cfg := t.TempDir()
	t.Setenv("DOCKER_CONFIG", cfg)
	t.Setenv("GITHUB_ACTOR", "octocat")
	t.Setenv("GITHUB_TOKEN", "gh-token")
	auth := base64.StdEncoding.EncodeToString([]byte("alice:docker-secret"))
	config := `{"auths": {"registry.example.com": {"auth": "` + auth + `"}}}`
	if err := os.WriteFile(filepath.Join(cfg, "config.json"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	resolve := func(host string) authn.AuthConfig {
		t.Helper()
		reg, err := name.NewRegistry(host)
		if err != nil {
			t.Fatal(err)
		}
		a, err := keychain().Resolve(reg)
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		c, err := a.Authorization()
		if err != nil {
			t.Fatal(err)
		}
		return *c
	}
	if c := resolve("registry.example.com"); c.Username != "alice" || c.Password != "docker-secret" {
		t.Errorf("registry.example.com: %+v, want the docker config's alice", c)
	}
	if c := resolve("ghcr.io"); c.Username != "octocat" || c.Password != "gh-token" {
		t.Errorf("ghcr.io: %+v, want GITHUB_ACTOR/GITHUB_TOKEN", c)
	}
	if c := resolve("127.0.0.1:5000"); c != (authn.AuthConfig{}) {
		t.Errorf("127.0.0.1:5000: %+v, want anonymous", c)
	}

	// The docker config comes before GitHub's token, as in ko.
	config = `{"auths": {"registry.example.com": {"auth": "` + auth + `"}, "ghcr.io": {"auth": "` + auth + `"}}}`
	if err := os.WriteFile(filepath.Join(cfg, "config.json"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	if c := resolve("ghcr.io"); c.Username != "alice" {
		t.Errorf("ghcr.io with a docker login: %+v, want the docker config's alice first", c)
	}
}
