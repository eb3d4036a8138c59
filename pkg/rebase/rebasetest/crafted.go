package rebasetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The crafted shapes below are the ones that once made the engine push a
// wrong image and report success (issue 8): each builds a base, an app on it
// and a newer base, into a registry, and returns the app's reference by
// digest.

// Windows builds, as Microsoft publishes them: one child per build.
const (
	WindowsLTSC2019 = "10.0.17763"
	WindowsLTSC2022 = "10.0.20348"
)

// WindowsBase is a Docker manifest list of windows/amd64 images, one for
// each os.version given, each a foreign first layer (nondistributable, with
// a URL, as Microsoft's bases have) and an ordinary one. The os.version is
// in the descriptors and the configs unless bare, for a base that says
// nothing about its build.
func WindowsBase(version string, bare bool, osVersions ...string) (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, types.DockerManifestList)
	for _, osv := range osVersions {
		foreign, err := Layer(map[string]string{"Files/windows/" + osv: "windows " + osv + "\n"}, types.DockerForeignLayer)
		if err != nil {
			return nil, err
		}
		d, err := foreign.Digest()
		if err != nil {
			return nil, err
		}
		img, err := mutate.Append(empty.Image, mutate.Addendum{
			Layer: foreign, MediaType: types.DockerForeignLayer,
			URLs:    []string{"https://mcr.microsoft.com/v2/windows/nanoserver/blobs/" + d.String()},
			History: v1.History{Created: v1.Time{Time: Epoch}, CreatedBy: "Apply image " + osv},
		})
		if err != nil {
			return nil, err
		}
		l, err := Layer(map[string]string{"Files/etc/base-release": version + " windows " + osv + "\n"}, types.DockerLayer)
		if err != nil {
			return nil, err
		}
		if img, err = mutate.Append(img, mutate.Addendum{Layer: l, MediaType: types.DockerLayer,
			History: v1.History{Created: v1.Time{Time: Epoch}, CreatedBy: "base " + version}}); err != nil {
			return nil, err
		}
		p := v1.Platform{OS: "windows", Architecture: "amd64", OSVersion: osv}
		if bare {
			p.OSVersion = ""
		}
		if img, err = withPlatform(img, p); err != nil {
			return nil, err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{MediaType: types.DockerManifestSchema2, Platform: &p}})
	}
	return idx, nil
}

func withPlatform(img v1.Image, p v1.Platform) (v1.Image, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant, cf.OSVersion = p.OS, p.Architecture, p.Variant, p.OSVersion
	cf.Created = v1.Time{Time: Epoch}
	return mutate.ConfigFile(img, cf)
}

// AppOn is an app image on base, the way ko lays it out (a kodata and an
// app layer of the base's family), with the base annotations in anns on
// its manifest (none when nil), and a config that names no os.version when
// bare.
func AppOn(base v1.Image, app string, anns map[string]string, bare bool) (v1.Image, error) {
	img, err := koImage(base, "", v1.Hash{}, false, func(base v1.Image, layerType types.MediaType) (v1.Image, error) {
		return appImage(app, base, layerType)
	})
	if err != nil {
		return nil, err
	}
	if bare {
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		cf = cf.DeepCopy()
		cf.OSVersion = ""
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			return nil, err
		}
	}
	if anns != nil {
		img = mutate.Annotations(img, anns).(v1.Image)
	}
	return img, nil
}

// Child is the image of idx for the platform (os/arch and, when given,
// os.version), with its digest.
func Child(idx v1.ImageIndex, p v1.Platform) (v1.Image, v1.Hash, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, v1.Hash{}, err
	}
	for _, d := range im.Manifests {
		if d.Platform != nil && d.Platform.OS == p.OS && d.Platform.Architecture == p.Architecture &&
			(p.OSVersion == "" || d.Platform.OSVersion == p.OSVersion) && (p.Variant == "" || d.Platform.Variant == p.Variant) {
			img, err := idx.Image(d.Digest)
			return img, d.Digest, err
		}
	}
	return nil, v1.Hash{}, fmt.Errorf("no %s/%s %s child", p.OS, p.Architecture, p.OSVersion)
}

// IndexOf is an index of the given family holding imgs, each with its
// descriptor's platform and annotations.
func IndexOf(mt types.MediaType, imgs []v1.Image, descs []v1.Descriptor) (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, mt)
	for i, img := range imgs {
		imt, err := img.MediaType()
		if err != nil {
			return nil, err
		}
		d := descs[i]
		d.MediaType = imt
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: d})
	}
	return idx, nil
}

// Pusher pushes into one registry host with the options given.
type Pusher struct {
	Ctx  context.Context
	Host string
	Opts []remote.Option
}

// Ref is HOST/s.
func (p Pusher) Ref(s string) string { return p.Host + "/" + s }

// Index pushes idx as HOST/ref and returns HOST/repo@digest.
func (p Pusher) Index(ref string, idx v1.ImageIndex) (string, error) {
	r, err := name.ParseReference(p.Ref(ref))
	if err != nil {
		return "", err
	}
	if err := remote.WriteIndex(r, idx, append(p.Opts, remote.WithContext(p.Ctx))...); err != nil {
		return "", err
	}
	d, err := idx.Digest()
	return r.Context().Digest(d.String()).String(), err
}

// Image pushes img as HOST/ref and returns HOST/repo@digest.
func (p Pusher) Image(ref string, img v1.Image) (string, error) {
	r, err := name.ParseReference(p.Ref(ref))
	if err != nil {
		return "", err
	}
	if err := remote.Write(r, img, append(p.Opts, remote.WithContext(p.Ctx))...); err != nil {
		return "", err
	}
	d, err := img.Digest()
	return r.Context().Digest(d.String()).String(), err
}

// Tag points HOST/dst at HOST/src.
func (p Pusher) Tag(src, dst string) error {
	return Tag(p.Ctx, p.Ref(src), p.Ref(dst), p.Opts...)
}

// WindowsApp pushes repo/base:v1 (the two LTSC builds, patch .1000, tagged
// stable), an app built on its 2022 child into repo/app, as a one-child
// index whose descriptor and config name no os.version, then repo/base:v2
// (patch .2000) and moves stable to it. The app must land on v2's 2022
// child.
func (p Pusher) WindowsApp(repo string) (string, error) {
	v1b, err := WindowsBase("v1", false, WindowsLTSC2019+".1000", WindowsLTSC2022+".1000")
	if err != nil {
		return "", err
	}
	v2b, err := WindowsBase("v2", false, WindowsLTSC2019+".2000", WindowsLTSC2022+".2000")
	if err != nil {
		return "", err
	}
	return p.onWindows(repo, v1b, v2b, WindowsLTSC2022+".1000")
}

// WindowsAmbiguousApp is WindowsApp on a v1 that says nothing about its
// build (no os.version in its descriptor or config, one child): which of
// v2's two builds the app is for cannot be told.
func (p Pusher) WindowsAmbiguousApp(repo string) (string, error) {
	v1b, err := WindowsBase("v1", true, WindowsLTSC2022+".1000")
	if err != nil {
		return "", err
	}
	v2b, err := WindowsBase("v2", false, WindowsLTSC2019+".2000", WindowsLTSC2022+".2000")
	if err != nil {
		return "", err
	}
	return p.onWindows(repo, v1b, v2b, "")
}

func (p Pusher) onWindows(repo string, v1b, v2b v1.ImageIndex, osv string) (string, error) {
	if _, err := p.Index(repo+"/base:v1", v1b); err != nil {
		return "", err
	}
	if err := p.Tag(repo+"/base:v1", repo+"/base:stable"); err != nil {
		return "", err
	}
	base, d, err := Child(v1b, v1.Platform{OS: "windows", Architecture: "amd64", OSVersion: osv})
	if err != nil {
		return "", err
	}
	anns := map[string]string{AnnotationBaseName: p.Ref(repo + "/base:stable"), AnnotationBaseDigest: d.String()}
	app, err := AppOn(base, "winapp", anns, true)
	if err != nil {
		return "", err
	}
	idx, err := IndexOf(types.DockerManifestList, []v1.Image{app}, []v1.Descriptor{{Platform: &v1.Platform{OS: "windows", Architecture: "amd64"}}})
	if err != nil {
		return "", err
	}
	ref, err := p.Index(repo+"/app:v1", idx)
	if err != nil {
		return "", err
	}
	if _, err := p.Index(repo+"/base:v2", v2b); err != nil {
		return "", err
	}
	return ref, p.Tag(repo+"/base:v2", repo+"/base:stable")
}

// ZstdApp pushes repo/base:v1 (gzip layers; Docker media types when
// docker), an app on it, then repo/base:v2 in OCI media types with zstd
// layers, and moves stable to it. A Docker app cannot be rebased onto it (a
// Docker manifest has no zstd layer type); an OCI one can.
func (p Pusher) ZstdApp(repo string, docker bool) (string, error) {
	if _, err := PushBase(p.Ctx, p.Ref(repo+"/base:v1"), BaseSpec{Version: "v1", Docker: docker}, p.Opts...); err != nil {
		return "", err
	}
	if err := p.Tag(repo+"/base:v1", repo+"/base:stable"); err != nil {
		return "", err
	}
	d, err := PushApp(p.Ctx, p.Ref(repo+"/app:v1"), AppSpec{Base: p.Ref(repo + "/base:stable"), Name: "zapp"}, p.Opts...)
	if err != nil {
		return "", err
	}
	if _, err := PushBase(p.Ctx, p.Ref(repo+"/base:v2"), BaseSpec{Version: "v2", Zstd: true}, p.Opts...); err != nil {
		return "", err
	}
	return p.Ref(repo + "/app@" + d.String()), p.Tag(repo+"/base:v2", repo+"/base:stable")
}

// DescriptorAnnotatedApp pushes repo/base:v1 (tagged stable), an app on it
// annotated the way Docker Official Images are: base.name and base.digest
// (the base's child for the platform) on the index descriptors only, not on
// the manifests or the index; then repo/base:v2, and moves stable to it.
func (p Pusher) DescriptorAnnotatedApp(repo string) (string, error) {
	if _, err := PushBase(p.Ctx, p.Ref(repo+"/base:v1"), BaseSpec{Version: "v1"}, p.Opts...); err != nil {
		return "", err
	}
	if err := p.Tag(repo+"/base:v1", repo+"/base:stable"); err != nil {
		return "", err
	}
	baseRef, err := name.ParseReference(p.Ref(repo + "/base:v1"))
	if err != nil {
		return "", err
	}
	baseIdx, err := remote.Index(baseRef, append(p.Opts, remote.WithContext(p.Ctx))...)
	if err != nil {
		return "", err
	}
	var imgs []v1.Image
	var descs []v1.Descriptor
	for _, plat := range Platforms {
		base, d, err := Child(baseIdx, plat)
		if err != nil {
			return "", err
		}
		app, err := AppOn(base, "doi", nil, false)
		if err != nil {
			return "", err
		}
		imgs = append(imgs, app)
		descs = append(descs, v1.Descriptor{Platform: &plat, Annotations: map[string]string{
			AnnotationBaseName: p.Ref(repo + "/base:stable"), AnnotationBaseDigest: d.String(),
			"com.docker.official-images.bashbrew.arch": plat.Architecture,
		}})
	}
	idx, err := IndexOf(types.OCIImageIndex, imgs, descs)
	if err != nil {
		return "", err
	}
	ref, err := p.Index(repo+"/app:v1", idx)
	if err != nil {
		return "", err
	}
	if _, err := PushBase(p.Ctx, p.Ref(repo+"/base:v2"), BaseSpec{Version: "v2"}, p.Opts...); err != nil {
		return "", err
	}
	return ref, p.Tag(repo+"/base:v2", repo+"/base:stable")
}

// UnannotatedApp pushes repo/base:v1, tagged stable, an app on it without
// base annotations (for --old-base/--new-base), then repo/base:v2 and moves
// stable to it.
func (p Pusher) UnannotatedApp(repo string) (string, error) {
	if _, err := PushBase(p.Ctx, p.Ref(repo+"/base:v1"), BaseSpec{Version: "v1"}, p.Opts...); err != nil {
		return "", err
	}
	if err := p.Tag(repo+"/base:v1", repo+"/base:stable"); err != nil {
		return "", err
	}
	d, err := PushApp(p.Ctx, p.Ref(repo+"/app:v1"), AppSpec{Base: p.Ref(repo + "/base:stable"), Name: "plain", NoAnnotations: true}, p.Opts...)
	if err != nil {
		return "", err
	}
	if _, err := PushBase(p.Ctx, p.Ref(repo+"/base:v2"), BaseSpec{Version: "v2"}, p.Opts...); err != nil {
		return "", err
	}
	return p.Ref(repo + "/app@" + d.String()), p.Tag(repo+"/base:v2", repo+"/base:stable")
}

// rawTaggable is a manifest's bytes and media type, for remote.Put.
type rawTaggable struct {
	b  []byte
	mt types.MediaType
}

func (r rawTaggable) RawManifest() ([]byte, error)        { return r.b, nil }
func (r rawTaggable) MediaType() (types.MediaType, error) { return r.mt, nil }

// putJSON pushes v, marshalled, into repo by digest as a manifest of media
// type mt, and returns its descriptor.
func (p Pusher) putJSON(repo string, v any, mt types.MediaType) (v1.Descriptor, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return v1.Descriptor{}, err
	}
	h, n, err := v1.SHA256(bytes.NewReader(b))
	if err != nil {
		return v1.Descriptor{}, err
	}
	r, err := name.ParseReference(p.Ref(repo + "@" + h.String()))
	if err != nil {
		return v1.Descriptor{}, err
	}
	if err := remote.Put(r, rawTaggable{b, mt}, append(p.Opts, remote.WithContext(p.Ctx))...); err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mt, Digest: h, Size: n, Data: b}, nil
}

// reshapedApp pushes repo/base:v1 (tagged stable), an app on it (an index
// of both Platforms, and an attestation child when attest), the app again with edit applied to each child's
// manifest and to the index's descriptor of it (the child's manifest bytes
// are in d.Data when edit is called, to embed or drop), then repo/base:v2,
// and moves stable to it. It returns the reshaped app by digest.
func (p Pusher) reshapedApp(repo string, attest bool, edit func(i int, m *v1.Manifest, cfg []byte, d *v1.Descriptor)) (string, error) {
	if _, err := PushBase(p.Ctx, p.Ref(repo+"/base:v1"), BaseSpec{Version: "v1"}, p.Opts...); err != nil {
		return "", err
	}
	if err := p.Tag(repo+"/base:v1", repo+"/base:stable"); err != nil {
		return "", err
	}
	d, err := PushApp(p.Ctx, p.Ref(repo+"/app:v1"), AppSpec{Base: p.Ref(repo + "/base:stable"), Name: repo, Attestation: attest}, p.Opts...)
	if err != nil {
		return "", err
	}
	r, err := name.ParseReference(p.Ref(repo + "/app@" + d.String()))
	if err != nil {
		return "", err
	}
	opts := append(p.Opts, remote.WithContext(p.Ctx))
	idx, err := remote.Index(r, opts...)
	if err != nil {
		return "", err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return "", err
	}
	im = im.DeepCopy()
	for i, c := range im.Manifests {
		img, err := idx.Image(c.Digest)
		if err != nil {
			return "", err
		}
		m, err := img.Manifest()
		if err != nil {
			return "", err
		}
		cfg, err := img.RawConfigFile()
		if err != nil {
			return "", err
		}
		m = m.DeepCopy()
		b, err := json.Marshal(m)
		if err != nil {
			return "", err
		}
		nd := c
		nd.Data = b
		edit(i, m, cfg, &nd)
		pushed, err := p.putJSON(repo+"/app", m, c.MediaType)
		if err != nil {
			return "", err
		}
		if nd.Data != nil {
			nd.Data = pushed.Data
		}
		nd.Digest, nd.Size = pushed.Digest, pushed.Size
		im.Manifests[i] = nd
	}
	top, err := p.putJSON(repo+"/app", im, im.MediaType)
	if err != nil {
		return "", err
	}
	if _, err := PushBase(p.Ctx, p.Ref(repo+"/base:v2"), BaseSpec{Version: "v2"}, p.Opts...); err != nil {
		return "", err
	}
	return p.Ref(repo + "/app@" + top.Digest.String()), p.Tag(repo+"/base:v2", repo+"/base:stable")
}

// EmbeddedDataApp is an app whose platform manifests embed their config
// (data, base64, in the config descriptor) and whose index embeds each
// platform manifest in its descriptor, as the image-spec allows: the
// rebased descriptors must not keep the old bytes.
func (p Pusher) EmbeddedDataApp(repo string) (string, error) {
	return p.reshapedApp(repo, false, func(_ int, m *v1.Manifest, cfg []byte, _ *v1.Descriptor) {
		m.Config.Data = cfg
	})
}

// BadDataApp is EmbeddedDataApp with the first platform's config
// descriptor embedding bytes that are not its config.
func (p Pusher) BadDataApp(repo string) (string, error) {
	return p.reshapedApp(repo, false, func(i int, m *v1.Manifest, cfg []byte, _ *v1.Descriptor) {
		m.Config.Data = cfg
		if i == 0 {
			m.Config.Data = bytes.Replace(cfg, []byte(`"amd64"`), []byte(`"arm64"`), 1)
		}
	})
}

// PlatformlessApp is an app whose arm64 child has no platform in the
// index (the image-spec makes it optional): its config says linux/arm64,
// and it carries the base annotations as ko writes them. Beside it, a
// buildkit-style attestation child, without a platform either.
func (p Pusher) PlatformlessApp(repo string) (string, error) {
	return p.reshapedApp(repo, true, func(i int, _ *v1.Manifest, _ []byte, d *v1.Descriptor) {
		d.Data = nil
		if d.Platform != nil && (d.Platform.Architecture == "arm64" || d.Platform.Architecture == "unknown") {
			d.Platform = nil
		}
	})
}
