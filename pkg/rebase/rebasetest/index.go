package rebasetest

import (
	"encoding/json"
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	imagespec "github.com/opencontainers/image-spec/specs-go/v1"
)

// This file builds images in memory, for callers that push them themselves
// (the demo, the end-to-end tests against a real registry, the benchmark):
// small two-platform bases with real files, in each shape registries serve,
// and apps on them laid out as ko v0.18 lays them out.

// BaseIndexPlatforms are the platforms BaseIndex builds: no variant on arm64,
// as ko's --platform=linux/amd64,linux/arm64 asks for.
var BaseIndexPlatforms = []v1.Platform{
	{OS: "linux", Architecture: "amd64"},
	{OS: "linux", Architecture: "arm64"},
}

// indexEpoch dates what BaseIndex and KoApp build, so their digests stay the
// ones the demo has always printed.
var indexEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// Shape is how a base image's manifests are typed and built.
type Shape int

const (
	// OCI: OCI media types, no artifactType on index children: how
	// registries serve most multi-platform bases, and how ko writes indexes.
	OCI Shape = iota
	// GGCR: OCI, built with go-containerregistry's mutate.AppendManifests
	// (as `crane index append` does): every index child carries an
	// artifactType equal to its config media type.
	GGCR
	// Docker: Docker manifest list, Docker schema 2 manifests, config and
	// layer types, as many Docker Hub images still are.
	Docker
)

func (s Shape) String() string {
	return [...]string{"oci", "ggcr", "docker"}[s]
}

// BaseImage builds one platform of the base image at version: a "rootfs"
// layer holding /etc/os-release, /etc/base-arch (the platform, "linux/arm64")
// and /bin/README, and a "release" layer holding /etc/base-release with the
// version, so a flattened image shows which base it runs on.
func BaseImage(version string, p v1.Platform, shape Shape) (v1.Image, error) {
	manifestType, configType, layerType := types.OCIManifestSchema1, types.OCIConfigJSON, types.OCILayer
	if shape == Docker {
		manifestType, configType, layerType = types.DockerManifestSchema2, types.DockerConfigJSON, types.DockerLayer
	}
	rootfs, err := tarLayer(map[string]string{
		"etc/os-release": "NAME=rebasekit-base\nID=rkbase\n",
		"etc/base-arch":  p.OS + "/" + p.Architecture + "\n",
		"bin/README":     "base " + version + " for " + p.Architecture + "\n",
	}, layerType, indexEpoch, false)
	if err != nil {
		return nil, err
	}
	release, err := tarLayer(map[string]string{
		"etc/base-release": version + "\n",
	}, layerType, indexEpoch, false)
	if err != nil {
		return nil, err
	}

	img := mutate.MediaType(empty.Image, manifestType)
	img = mutate.ConfigMediaType(img, configType)
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{
		OS:           p.OS,
		Architecture: p.Architecture,
		Variant:      p.Variant,
		Created:      v1.Time{Time: indexEpoch},
		Config: v1.Config{
			Env: []string{"PATH=/usr/local/bin:/usr/bin:/bin"},
			Labels: map[string]string{
				imagespec.AnnotationVersion: version,
			},
		},
		RootFS: v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, err
	}
	return mutate.Append(img,
		mutate.Addendum{Layer: rootfs, History: v1.History{
			Created: v1.Time{Time: indexEpoch}, CreatedBy: "ADD rootfs-" + p.Architecture + ".tar /",
		}},
		mutate.Addendum{Layer: release, History: v1.History{
			Created: v1.Time{Time: indexEpoch}, CreatedBy: "RUN echo " + version + " > /etc/base-release",
		}},
	)
}

// BaseIndex builds the multi-platform base image at version for
// BaseIndexPlatforms, in the OCI shape.
func BaseIndex(version string) (v1.ImageIndex, error) {
	return BaseIndexShaped(version, OCI)
}

// BaseIndexShaped builds the multi-platform base image at version for
// BaseIndexPlatforms in the given shape. GGCR and OCI hold the same images;
// only the index differs.
func BaseIndexShaped(version string, shape Shape) (v1.ImageIndex, error) {
	indexType := types.OCIImageIndex
	if shape == Docker {
		indexType = types.DockerManifestList
	}
	idx := mutate.IndexMediaType(empty.Index, indexType)
	var adds []mutate.IndexAddendum
	for _, p := range BaseIndexPlatforms {
		img, err := BaseImage(version, p, shape)
		if err != nil {
			return nil, fmt.Errorf("base %s %s: %w", version, p, err)
		}
		p := p
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	if shape == GGCR {
		return mutate.AppendManifests(idx, adds...), nil
	}
	return PlainIndex(mutate.AppendManifests(idx, adds...))
}

// KoApp builds the application app on base the way ko v0.18's buildAll does
// for a multi-platform base that baseName (e.g. "host/base:stable") resolved
// to, as koIndex lays it out, for every child of base: each platform image
// is the annotated base child plus one app layer holding /ko-app/<app>, with
// ko's entrypoint and environment. Like ko, it writes no artifactType on the
// index's children.
func KoApp(baseName string, base v1.ImageIndex, app string) (v1.ImageIndex, error) {
	im, err := base.IndexManifest()
	if err != nil {
		return nil, err
	}
	idx, adds, err := koIndex(base, baseName, im.Manifests, true, func(img v1.Image, layerType types.MediaType) (v1.Image, error) {
		out, err := koAppImage(img, app, layerType)
		if err != nil {
			return nil, fmt.Errorf("app %s: %w", app, err)
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	return PlainIndex(mutate.AppendManifests(idx, adds...))
}

// koAppImage appends KoApp's application layer to an (annotated) base child.
func koAppImage(base v1.Image, app string, layerType types.MediaType) (v1.Image, error) {
	cf, err := base.ConfigFile()
	if err != nil {
		return nil, err
	}
	bin, err := tarLayer(map[string]string{
		"ko-app/" + app: fmt.Sprintf("#!/bin/false\n# %s built for %s/%s\n", app, cf.OS, cf.Architecture),
	}, layerType, indexEpoch, false)
	if err != nil {
		return nil, err
	}
	img, err := mutate.Append(base, mutate.Addendum{Layer: bin, History: v1.History{
		Author: "ko", Created: v1.Time{Time: indexEpoch.Add(time.Hour)}, CreatedBy: "ko build ko://example.com/cmd/" + app,
		Comment: "go build output, at /ko-app/" + app,
	}})
	if err != nil {
		return nil, err
	}
	if cf, err = img.ConfigFile(); err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Config.Entrypoint = []string{"/ko-app/" + app}
	cf.Config.Env = append(cf.Config.Env, "PATH=/ko-app", "KO_DATA_PATH=/var/run/ko")
	cf.Config.User = "65532"
	cf.Author = "github.com/ko-build/ko"
	cf.Created = v1.Time{Time: indexEpoch.Add(time.Hour)}
	return mutate.ConfigFile(img, cf)
}

// PlainIndex returns idx without the "artifactType" that go-containerregistry
// v0.22's mutate.AppendManifests writes into every child descriptor (the
// config media type). Indexes as registries serve them for Docker Hub bases
// and as ko writes them (its own AppendManifests) carry no artifactType on
// platform images, and that is what BaseIndex and KoApp imitate. Use
// mutate.AppendManifests directly to get the go-containerregistry shape.
func PlainIndex(idx v1.ImageIndex) (v1.ImageIndex, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	im = im.DeepCopy()
	children := map[v1.Hash]v1.Image{}
	for i := range im.Manifests {
		im.Manifests[i].ArtifactType = ""
		img, err := idx.Image(im.Manifests[i].Digest)
		if err != nil {
			return nil, err
		}
		children[im.Manifests[i].Digest] = img
	}
	raw, err := json.Marshal(im)
	if err != nil {
		return nil, err
	}
	return &rawIndex{raw: raw, manifest: im, children: children}, nil
}

// rawIndex is an image index with given manifest bytes and child images.
type rawIndex struct {
	raw      []byte
	manifest *v1.IndexManifest
	children map[v1.Hash]v1.Image
}

func (r *rawIndex) MediaType() (types.MediaType, error)       { return r.manifest.MediaType, nil }
func (r *rawIndex) Digest() (v1.Hash, error)                  { return partial.Digest(r) }
func (r *rawIndex) Size() (int64, error)                      { return partial.Size(r) }
func (r *rawIndex) IndexManifest() (*v1.IndexManifest, error) { return r.manifest.DeepCopy(), nil }
func (r *rawIndex) RawManifest() ([]byte, error)              { return r.raw, nil }
func (r *rawIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	return nil, fmt.Errorf("no child index %s", h)
}
func (r *rawIndex) Image(h v1.Hash) (v1.Image, error) {
	if img, ok := r.children[h]; ok {
		return img, nil
	}
	return nil, fmt.Errorf("no child image %s", h)
}
