package packages_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/rebasekit/rebasekit/pkg/packages"
	rkregistry "github.com/rebasekit/rebasekit/pkg/registry"
)

// remoteLayers is the digests of the layers of the image ref.
func remoteLayers(ref name.Digest) ([]string, error) {
	desc, err := remote.Get(ref)
	if err != nil {
		return nil, err
	}
	var m v1.Manifest
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		return nil, err
	}
	var ds []string
	for _, l := range m.Layers {
		ds = append(ds, l.Digest.String())
	}
	return ds, nil
}

// newReader is a Reader through a registry client as the engine builds one
// (no keychain: the test registry is anonymous).
func newReader(t testing.TB, opts ...func(*rkregistry.Options)) *packages.Reader {
	t.Helper()
	o := rkregistry.Options{Keychain: authn.NewMultiKeychain(), Jobs: 4}
	for _, f := range opts {
		f(&o)
	}
	c, err := rkregistry.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return packages.NewReader(c, c, 0)
}
