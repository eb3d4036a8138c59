package rebase

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func TestObjectKeepsOrderAndBytes(t *testing.T) {
	in := `{"schemaVersion":2,"mediaType":"x","config":{"size":1,"digest":"a"},"annotations":{"z":"<&>","a":"1"},"x-unknown":[1,2.50,{"k":null}]}`
	o, err := parseObject([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	c, err := o.child("config")
	if err != nil {
		t.Fatal(err)
	}
	c.setRaw("digest", jsonString("b"))
	cb, _ := c.bytes()
	o.setRaw("config", cb)
	out, err := o.bytes()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"schemaVersion":2,"mediaType":"x","config":{"size":1,"digest":"b"},"annotations":{"z":"<&>","a":"1"},"x-unknown":[1,2.50,{"k":null}]}`
	if string(out) != want {
		t.Errorf("got  %s\nwant %s", out, want)
	}
	for _, bad := range []string{`{"a":1,"a":2}`, `[1]`, `{"a":1} {}`, `{"a":`} {
		if _, err := parseObject([]byte(bad)); err == nil {
			t.Errorf("parseObject(%s) accepted", bad)
		}
	}
}

func TestChildForWithoutVariant(t *testing.T) {
	child := func(os, arch, variant, digest string) v1.Descriptor {
		return v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: v1.Hash{Algorithm: "sha256", Hex: digest},
			Platform: &v1.Platform{OS: os, Architecture: arch, Variant: variant}}
	}
	amd64, armv7, armv6 := child("linux", "amd64", "", "a"), child("linux", "arm", "v7", "b"), child("linux", "arm", "v6", "c")
	arm64 := child("linux", "arm64", "v8", "d")
	for _, c := range []struct {
		name string
		idx  []v1.Descriptor
		p    v1.Platform
		want string // digest hex, "" for none
	}{
		{"exact variant", []v1.Descriptor{amd64, armv6, armv7}, v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, "b"},
		{"no variant, one arm child", []v1.Descriptor{amd64, armv7}, v1.Platform{OS: "linux", Architecture: "arm"}, "b"},
		{"no variant, two arm children: ambiguous", []v1.Descriptor{amd64, armv6, armv7}, v1.Platform{OS: "linux", Architecture: "arm"}, ""},
		{"a variant the base lacks", []v1.Descriptor{amd64, armv7}, v1.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}, ""},
		{"arm64 without variant is v8", []v1.Descriptor{amd64, arm64}, v1.Platform{OS: "linux", Architecture: "arm64"}, "d"},
		{"never another architecture", []v1.Descriptor{amd64}, v1.Platform{OS: "linux", Architecture: "arm"}, ""},
	} {
		d, _, ok := childFor(&v1.IndexManifest{Manifests: c.idx}, &c.p)
		if got := d.Digest.Hex; ok != (c.want != "") || got != c.want {
			t.Errorf("%s: got %q (%v), want %q", c.name, got, ok, c.want)
		}
	}
}

func TestReferrersScope(t *testing.T) {
	for in, want := range map[string]string{
		"ghcr.io/acme/app":                 "ghcr.io/acme/",
		"ghcr.io/acme/team/app":            "ghcr.io/acme/",
		"ghcr.io/other/app":                "ghcr.io/other/",
		"localhost:5000/app":               "localhost:5000",
		"art.example.com/docker-local/app": "art.example.com/docker-local/",
	} {
		r, err := name.NewRepository(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := referrersScope(r); got != want {
			t.Errorf("referrersScope(%s) = %q, want %q", in, got, want)
		}
	}
}

// The typed decoder and the byte editor must read the same document: keys
// that differ only in case, or spelled other than their field, are refused
// at every level the typed decoder reads; maps (annotations, labels) are
// case-sensitive and keep such keys; exact duplicates are refused anywhere.
func TestCheckKeys(t *testing.T) {
	for _, c := range []struct {
		doc  string
		typ  reflect.Type
		want string // "" when accepted
	}{
		{`{"schemaVersion":2,"layers":[],"Layers":[]}`, manifestType,
			`the manifest has the JSON keys "layers" and "Layers", which differ only in case: JSON readers disagree on which one counts`},
		{`{"schemaVersion":2,"Layers":[]}`, manifestType,
			`the manifest has the JSON key "Layers" where the field is "layers": JSON readers disagree on whether it counts`},
		{`{"layers":[{"digest":"sha256:00"},{"mediaType":"a","MediaType":"b"}]}`, manifestType,
			`the manifest's layers[1] has the JSON keys "mediaType" and "MediaType", which differ only in case: JSON readers disagree on which one counts`},
		{`{"manifests":[{"platform":{"os":"linux","OS":"windows"}}]}`, indexType,
			`the index's manifests[0].platform has the JSON keys "os" and "OS", which differ only in case: JSON readers disagree on which one counts`},
		{`{"config":{"User":"0","user":"65532"}}`, configType,
			`the config's config has the JSON keys "User" and "user", which differ only in case: JSON readers disagree on which one counts`},
		{`{"history":[{"created_by":"a"},{"Created_By":"b"}]}`, configType,
			`the config's history[1] has the JSON key "Created_By" where the field is "created_by": JSON readers disagree on whether it counts`},
		{`{"config":{"Healthcheck":{"test":["x"]}}}`, configType,
			`the config's config.Healthcheck has the JSON key "test" where the field is "Test": JSON readers disagree on whether it counts`},
		{`{"annotations":{"a":"1","a":"2"}}`, manifestType,
			`the manifest's annotations has the JSON key "a" twice: JSON readers disagree on which one counts`},
		// The Kelvin sign folds to k, as encoding/json folds it.
		{"{\"schemaVersion\":2,\"\u212Aey\":1,\"layers\":[]}", manifestType, ""},
		{"{\"config\":{\"WorkingDir\":\"/\",\"Wor\u212AingDir\":\"/x\"}}", configType,
			"the config's config has the JSON keys \"WorkingDir\" and \"Wor\u212AingDir\", which differ only in case: JSON readers disagree on which one counts"},
		{`{"annotations":{"a":"1","A":"2"},"layers":[{"annotations":{"x":"1","X":"2"}}],"x-ext":{"f":1,"F":2}}`, manifestType, ""},
		{`{"config":{"Labels":{"a":"1","A":"2"},"Env":["A=1"]},"rootfs":{"diff_ids":["sha256:00"]}}`, configType, ""},
	} {
		err := checkKeys([]byte(c.doc), c.typ, "the "+map[reflect.Type]string{manifestType: "manifest", indexType: "index", configType: "config"}[c.typ])
		if got := fmt.Sprint(err); c.want == "" && err != nil || c.want != "" && got != c.want {
			t.Errorf("checkKeys(%s)\n got %v\nwant %s", c.doc, err, c.want)
		}
	}
}

// A child is an attestation or artifact only when it says so; a child
// without a platform may be an image.
func TestNotAnImage(t *testing.T) {
	img := v1.Descriptor{MediaType: types.OCIManifestSchema1}
	for _, c := range []struct {
		d    v1.Descriptor
		want string
	}{
		{img, ""},
		{v1.Descriptor{MediaType: types.OCIManifestSchema1, Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"}}, ""},
		{v1.Descriptor{MediaType: types.OCIManifestSchema1, ArtifactType: string(types.OCIConfigJSON)}, ""},
		{v1.Descriptor{MediaType: types.OCIManifestSchema1, Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest"}}, "attestation-manifest"},
		{v1.Descriptor{MediaType: types.OCIManifestSchema1, ArtifactType: "application/vnd.dev.sigstore.bundle.v0.3+json"}, "application/vnd.dev.sigstore.bundle.v0.3+json"},
		{v1.Descriptor{MediaType: "application/vnd.example+json"}, "application/vnd.example+json"},
	} {
		if got := notAnImage(c.d); got != c.want {
			t.Errorf("notAnImage(%+v) = %q, want %q", c.d, got, c.want)
		}
	}
	layer := v1.Descriptor{MediaType: types.OCILayer}
	for _, c := range []struct {
		m    v1.Manifest
		want string
	}{
		{v1.Manifest{Config: v1.Descriptor{MediaType: types.OCIConfigJSON}, Layers: []v1.Descriptor{layer}}, ""},
		{v1.Manifest{Config: v1.Descriptor{MediaType: types.DockerConfigJSON}}, ""},
		{v1.Manifest{ArtifactType: "application/spdx+json", Config: v1.Descriptor{MediaType: types.OCIConfigJSON}}, "application/spdx+json"},
		{v1.Manifest{Config: v1.Descriptor{MediaType: "application/vnd.oci.empty.v1+json"}}, "application/vnd.oci.empty.v1+json"},
		{v1.Manifest{Config: v1.Descriptor{MediaType: types.OCIConfigJSON}, Layers: []v1.Descriptor{{MediaType: "application/vnd.in-toto+json"}}}, "application/vnd.in-toto+json"},
	} {
		if got := artifactManifest(&c.m); got != c.want {
			t.Errorf("artifactManifest(%+v) = %q, want %q", c.m, got, c.want)
		}
	}
}
