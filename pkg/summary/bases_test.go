package summary

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/rebasekit/rebasekit/pkg/packages"
	"github.com/rebasekit/rebasekit/pkg/packages/packagestest"
	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
	"github.com/rebasekit/rebasekit/pkg/registry"
)

// engineReader reads as crane-rebase-stream's summary does: through the
// engine's registry client.
func engineReader(t *testing.T) *packages.Reader {
	t.Helper()
	c, err := registry.New(registry.Options{Keychain: authn.NewMultiKeychain(), Jobs: 4})
	if err != nil {
		t.Fatal(err)
	}
	return packages.NewReader(c, c, 0)
}

func moved(base, old, new string) rebase.Result {
	return rebase.Result{Input: "r.example/app:v1", Action: rebase.Rebased, Base: base, Digest: "sha256:o", NewDigest: "sha256:n",
		Platforms: []rebase.PlatformResult{{Platform: "linux/amd64", Action: rebase.Rebased, OldBase: old, NewBase: new}}}
}

// TestBasesOnALoopbackRegistrySpelledOtherwise: the engine speaks plain
// HTTP to any loopback registry (LOCALHOST:PORT as well as localhost:PORT);
// so must the summary's reads of the bases it rebased onto.
func TestBasesOnALoopbackRegistrySpelledOtherwise(t *testing.T) {
	reg := rebasetest.NewRegistry()
	defer reg.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, old, err := packagestest.PushBase(ctx, reg.Ref("wolfi:v1"), "v1", []map[string]string{{"lib/apk/db/installed": packagestest.APKInstalled(packages.Package{Name: "openssl", Version: "3.3.1-r0"})}})
	if err != nil {
		t.Fatal(err)
	}
	_, new, err := packagestest.PushBase(ctx, reg.Ref("wolfi:v2"), "v2", []map[string]string{{"lib/apk/db/installed": packagestest.APKInstalled(packages.Package{Name: "openssl", Version: "3.3.2-r0"})}})
	if err != nil {
		t.Fatal(err)
	}
	port := reg.Host[strings.LastIndex(reg.Host, ":"):]
	s := Rebase{Packages: engineReader(t)}
	s.Add(1, moved("LOCALHOST"+port+"/wolfi:v2", old[0].String(), new[0].String()))
	bases := s.Bases(ctx)
	p := bases[0].Platforms[0]
	if p.Changes == nil || len(p.Changes.Upgraded) != 1 || p.Changes.Upgraded[0].New != "3.3.2-r0" {
		t.Errorf("changes %+v; old list %+v, new list %+v", p.Changes, p.OldPackages, p.NewPackages)
	}
}

// TestBasesOnAPrivateNetworkAreReadInHTTPSOnly: go-containerregistry falls
// back to plain HTTP for RFC 1918 addresses; the engine does not, and
// neither do the summary's reads.
func TestBasesOnAPrivateNetworkAreReadInHTTPSOnly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	s := Rebase{Packages: engineReader(t)}
	h := "sha256:" + strings.Repeat("a", 64)
	s.Add(1, moved("10.255.255.1:5000/wolfi:v2", h, h))
	p := s.Bases(ctx)[0].Platforms[0]
	if want := "only loopback registries may use HTTP unless insecure registries are allowed"; !strings.Contains(p.NewPackages.Unknown, want) {
		t.Errorf("new base: %q, want the refusal of plain HTTP (%q)", p.NewPackages.Unknown, want)
	}
}

// TestBasesUnknownMessages: what a platform's package list says when its
// base cannot be named.
func TestBasesUnknownMessages(t *testing.T) {
	s := Rebase{Packages: engineReader(t)}
	s.Add(1, moved("", "sha256:"+strings.Repeat("a", 64), "sha256:"+strings.Repeat("b", 64)))
	s.Add(2, moved("r.example/base:1", "sha256:short", "sha256:short"))
	bases := s.Bases(context.Background())
	if got, want := bases[0].Platforms[0].NewPackages.Unknown, "its repository is unknown"; got != want {
		t.Errorf("no base name: %q, want %q", got, want)
	}
	if got, want := bases[1].Platforms[0].OldPackages.Unknown, "could not parse reference: r.example/base@sha256:short"; got != want {
		t.Errorf("a bad digest: %q, want %q", got, want)
	}
}
