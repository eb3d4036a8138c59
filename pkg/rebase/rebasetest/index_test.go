package rebasetest

import (
	"context"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestKoApp checks BaseIndexShaped and KoApp build what ko v0.18 builds, for
// every base shape: the layout, media types and annotations the rebase engine
// relies on, including ko's index-level base.digest that names no manifest in
// the registry when the base is OCI.
func TestKoApp(t *testing.T) {
	for _, shape := range []Shape{OCI, GGCR, Docker} {
		t.Run(shape.String(), func(t *testing.T) { testKoApp(t, shape) })
	}
}

func testKoApp(t *testing.T, shape Shape) {
	base, err := BaseIndexShaped("v1", shape)
	if err != nil {
		t.Fatal(err)
	}
	baseDigest, _ := base.Digest()
	again, _ := BaseIndexShaped("v1", shape)
	if d, _ := again.Digest(); d != baseDigest {
		t.Fatalf("BaseIndexShaped is not reproducible: %s then %s", baseDigest, d)
	}
	v2, _ := BaseIndexShaped("v2", shape)
	if d, _ := v2.Digest(); d == baseDigest {
		t.Fatal("v1 and v2 bases have the same digest")
	}

	app, err := KoApp("example.com/base:stable", base, "hello")
	if err != nil {
		t.Fatal(err)
	}
	im, err := app.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	bim, _ := base.IndexManifest()
	if im.MediaType != bim.MediaType {
		t.Errorf("index media type %s, base %s", im.MediaType, bim.MediaType)
	}
	if got := im.Annotations[AnnotationBaseName]; got != "example.com/base:stable" {
		t.Errorf("index base.name = %q", got)
	}
	got := im.Annotations[AnnotationBaseDigest]
	if shape == Docker && got != baseDigest.String() {
		t.Errorf("index base.digest = %q, want the Docker base's own %s", got, baseDigest)
	}
	if shape != Docker && (got == "" || got == baseDigest.String()) {
		t.Errorf("index base.digest = %q, want ko's annotated copy, not the base %s", got, baseDigest)
	}
	if len(im.Manifests) != len(bim.Manifests) {
		t.Fatalf("%d children, want %d", len(im.Manifests), len(bim.Manifests))
	}
	for i, desc := range im.Manifests {
		if desc.ArtifactType != "" {
			t.Errorf("child %d has artifactType %q; ko writes none", i, desc.ArtifactType)
		}
		if (bim.Manifests[i].ArtifactType != "") != (shape == GGCR) {
			t.Errorf("base child %d has artifactType %q", i, bim.Manifests[i].ArtifactType)
		}
		if desc.Platform.String() != bim.Manifests[i].Platform.String() {
			t.Errorf("child %d platform %s, want %s", i, desc.Platform, bim.Manifests[i].Platform)
		}
		img, _ := app.Image(desc.Digest)
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		if got, want := m.Annotations[AnnotationBaseDigest], bim.Manifests[i].Digest.String(); got != want {
			t.Errorf("%s base.digest = %s, want %s", desc.Platform, got, want)
		}
		baseImg, _ := base.Image(bim.Manifests[i].Digest)
		bm, _ := baseImg.Manifest()
		if m.MediaType != bm.MediaType || m.Config.MediaType != bm.Config.MediaType {
			t.Errorf("%s media types %s/%s, base %s/%s", desc.Platform, m.MediaType, m.Config.MediaType, bm.MediaType, bm.Config.MediaType)
		}
		if len(m.Layers) != len(bm.Layers)+1 {
			t.Fatalf("%s: %d layers, want %d+1", desc.Platform, len(m.Layers), len(bm.Layers))
		}
		for j := range bm.Layers {
			if m.Layers[j].Digest != bm.Layers[j].Digest {
				t.Errorf("%s layer %d = %s, want base %s", desc.Platform, j, m.Layers[j].Digest, bm.Layers[j].Digest)
			}
		}
		wantLayer := types.OCILayer
		if shape == Docker {
			wantLayer = types.DockerLayer
		}
		for j, l := range m.Layers {
			if l.MediaType != wantLayer {
				t.Errorf("%s layer %d media type %s, want %s", desc.Platform, j, l.MediaType, wantLayer)
			}
		}
		cf, _ := img.ConfigFile()
		if cf.Architecture != desc.Platform.Architecture || len(cf.RootFS.DiffIDs) != len(m.Layers) || len(cf.History) != len(m.Layers) {
			t.Errorf("%s config: arch %s, %d diff_ids, %d history for %d layers",
				desc.Platform, cf.Architecture, len(cf.RootFS.DiffIDs), len(cf.History), len(m.Layers))
		}
	}
}

// TestPushAppMatchesKoApp checks that PushApp, on a base pushed from
// BaseIndexShaped, annotates like KoApp: same index and per-platform
// base.name and base.digest, same media types; only the app layers differ.
func TestPushAppMatchesKoApp(t *testing.T) {
	ctx := context.Background()
	reg := NewRegistry()
	defer reg.Close()
	for _, shape := range []Shape{OCI, GGCR, Docker} {
		t.Run(shape.String(), func(t *testing.T) {
			base, err := BaseIndexShaped("v1", shape)
			if err != nil {
				t.Fatal(err)
			}
			baseRef := reg.Ref(shape.String() + "/base:stable")
			r, _ := name.ParseReference(baseRef)
			if err := remote.WriteIndex(r, base, remote.WithContext(ctx)); err != nil {
				t.Fatal(err)
			}
			want, err := KoApp(r.Name(), base, "hello")
			if err != nil {
				t.Fatal(err)
			}
			d, err := PushApp(ctx, reg.Ref(shape.String()+"/app:v1"), AppSpec{Base: baseRef, Name: "hello"})
			if err != nil {
				t.Fatal(err)
			}
			ar, _ := name.ParseReference(reg.Ref(shape.String() + "/app@" + d.String()))
			got, err := remote.Index(ar, remote.WithContext(ctx))
			if err != nil {
				t.Fatal(err)
			}
			gim, _ := got.IndexManifest()
			wim, _ := want.IndexManifest()
			if gim.MediaType != wim.MediaType {
				t.Errorf("index media type %s, KoApp %s", gim.MediaType, wim.MediaType)
			}
			for _, k := range []string{AnnotationBaseName, AnnotationBaseDigest} {
				if gim.Annotations[k] != wim.Annotations[k] {
					t.Errorf("index %s = %q, KoApp %q", k, gim.Annotations[k], wim.Annotations[k])
				}
			}
			if len(gim.Manifests) != len(wim.Manifests) {
				t.Fatalf("%d children, KoApp %d", len(gim.Manifests), len(wim.Manifests))
			}
			for i := range gim.Manifests {
				gi, _ := got.Image(gim.Manifests[i].Digest)
				wi, _ := want.Image(wim.Manifests[i].Digest)
				gm, err := gi.Manifest()
				if err != nil {
					t.Fatal(err)
				}
				wm, _ := wi.Manifest()
				if gm.MediaType != wm.MediaType || gm.Config.MediaType != wm.Config.MediaType {
					t.Errorf("child %d media types %s/%s, KoApp %s/%s", i, gm.MediaType, gm.Config.MediaType, wm.MediaType, wm.Config.MediaType)
				}
				for k, v := range wm.Annotations {
					if gm.Annotations[k] != v {
						t.Errorf("child %d %s = %q, KoApp %q", i, k, gm.Annotations[k], v)
					}
				}
			}
			for _, p := range BaseIndexPlatforms {
				files, err := Files(ctx, ar.String(), p)
				if err != nil {
					t.Fatal(err)
				}
				if files["etc/base-release"] != "v1\n" || files["etc/base-arch"] != p.OS+"/"+p.Architecture+"\n" {
					t.Errorf("%s: base-release %q, base-arch %q", p, files["etc/base-release"], files["etc/base-arch"])
				}
			}
		})
	}
}
