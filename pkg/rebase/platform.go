package rebase

import (
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// platformString is os/arch[/variant][:os.version], as people write it
// (v1.Platform.String); "unknown" for a child without a platform, or one
// without an os, which String would make "".
func platformString(p *v1.Platform) string {
	if p == nil || p.OS == "" {
		return "unknown"
	}
	return p.String()
}

// isPlatformImage reports whether an index child is an image for a real
// platform, as opposed to an attestation or other artifact, or a child
// whose descriptor names no platform.
func isPlatformImage(d v1.Descriptor) bool {
	return notAnImage(d) == "" && knownPlatform(d.Platform)
}

// knownPlatform reports whether p names an os and an architecture.
func knownPlatform(p *v1.Platform) bool {
	return p != nil && p.OS != "" && p.OS != "unknown" && p.Architecture != "" && p.Architecture != "unknown"
}

// notAnImage says what an index child is when its descriptor says it is not
// an image a user would pull: a buildkit attestation (which names its
// reference type), an artifact (an artifactType other than an image
// config's), or not an image manifest at all; "" when it may be an image.
// A descriptor without a platform is not one: the image-spec makes platform
// optional, and the child's config says which it is.
func notAnImage(d v1.Descriptor) string {
	if t, ok := d.Annotations["vnd.docker.reference.type"]; ok { // buildkit attestations
		if t == "" {
			t = "vnd.docker.reference.type"
		}
		return t
	}
	// go-containerregistry writes the config media type as artifactType of
	// every image it appends; anything else is an artifact.
	if d.ArtifactType != "" && !types.MediaType(d.ArtifactType).IsConfig() {
		return d.ArtifactType
	}
	if !d.MediaType.IsImage() {
		return string(d.MediaType)
	}
	return ""
}

// artifactManifest says what an image manifest is when it says it is an
// artifact rather than an image: an artifactType, a config that is not an
// image config, or a layer that is not a file system layer (in-toto
// statements); "" for an image.
func artifactManifest(m *v1.Manifest) string {
	switch {
	case m.ArtifactType != "":
		return m.ArtifactType
	case !m.Config.MediaType.IsConfig():
		return string(m.Config.MediaType)
	}
	for _, l := range m.Layers {
		if !l.MediaType.IsLayer() {
			return string(l.MediaType)
		}
	}
	return ""
}

// samePlatform matches the image's own platform exactly: os, architecture,
// variant and, when both have one, os.version (compared up to the build
// number, so a Windows base with a newer patch level still matches).
func samePlatform(want, have *v1.Platform) bool {
	if want == nil || have == nil {
		return false
	}
	if want.OS != have.OS || want.Architecture != have.Architecture {
		return false
	}
	if normVariant(want) != normVariant(have) {
		return false
	}
	if want.OSVersion != "" && have.OSVersion != "" && osBuild(want.OSVersion) != osBuild(have.OSVersion) {
		return false
	}
	return true
}

// normVariant treats arm64 without a variant as arm64/v8, as the registries
// and runtimes do.
func normVariant(p *v1.Platform) string {
	if p.Architecture == "arm64" && p.Variant == "" {
		return "v8"
	}
	return p.Variant
}

// osBuild is major.minor.build of a Windows os.version.
func osBuild(v string) string {
	parts := strings.SplitN(v, ".", 4)
	if len(parts) > 3 {
		parts = parts[:3]
	}
	return strings.Join(parts, ".")
}

// childFor picks the index child for platform p, preferring an exact
// os.version match. It never falls back to a default platform. A p without
// a variant (builders often leave it out of the config: linux/arm for an
// arm/v7 image) takes the one child of its os and architecture when there
// is exactly one; a p without an os.version takes the one child of its
// platform, or several of one Windows build. Where several children fit and
// nothing tells them apart (arm/v6 and arm/v7; Windows 10.0.17763 and
// 10.0.20348), none is taken and they are returned as the candidates.
func childFor(idx *v1.IndexManifest, p *v1.Platform) (v1.Descriptor, []v1.Descriptor, bool) {
	d, candidates, ok := exactChild(idx, p)
	if ok || len(candidates) > 0 || p == nil || p.Variant != "" {
		return d, candidates, ok
	}
	var found []v1.Descriptor
	for _, d := range idx.Manifests {
		if isPlatformImage(d) && looselySamePlatform(p, d.Platform) &&
			(p.OSVersion == "" || d.Platform.OSVersion == "" || osBuild(p.OSVersion) == osBuild(d.Platform.OSVersion)) {
			found = append(found, d)
		}
	}
	switch len(found) {
	case 0:
		return v1.Descriptor{}, nil, false
	case 1:
		return found[0], nil, true
	}
	return v1.Descriptor{}, found, false
}

func exactChild(idx *v1.IndexManifest, p *v1.Platform) (v1.Descriptor, []v1.Descriptor, bool) {
	var found []v1.Descriptor
	for _, d := range idx.Manifests {
		if !isPlatformImage(d) || !samePlatform(p, d.Platform) {
			continue
		}
		if d.Platform.OSVersion == p.OSVersion {
			return d, nil, true
		}
		found = append(found, d)
	}
	switch {
	case len(found) == 0:
		return v1.Descriptor{}, nil, false
	case p.OSVersion == "" && distinctBuilds(found) > 1:
		return v1.Descriptor{}, found, false // which Windows build?
	}
	return found[0], nil, true
}

// distinctBuilds counts the Windows builds (major.minor.build) among ds.
func distinctBuilds(ds []v1.Descriptor) int {
	seen := map[string]bool{}
	for _, d := range ds {
		seen[osBuild(d.Platform.OSVersion)] = true
	}
	return len(seen)
}

// candidateList names index children for a message: digest (platform), ...
func candidateList(ds []v1.Descriptor) string {
	var b strings.Builder
	for i, d := range ds {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(d.Digest.String() + " (" + platformString(d.Platform) + ")")
	}
	return b.String()
}

// configPlatform reads the platform of a single image from its config.
func configPlatform(cfg *object) (*v1.Platform, error) {
	var p v1.Platform
	if err := cfg.get("os", &p.OS); err != nil {
		return nil, err
	}
	if err := cfg.get("architecture", &p.Architecture); err != nil {
		return nil, err
	}
	if err := cfg.get("variant", &p.Variant); err != nil {
		return nil, err
	}
	if err := cfg.get("os.version", &p.OSVersion); err != nil {
		return nil, err
	}
	return &p, nil
}

// looselySamePlatform compares a platform with one read from a config, where
// builders often leave out the variant: os and architecture must match, the
// variant only when both name one.
func looselySamePlatform(want, have *v1.Platform) bool {
	if want == nil || have == nil || want.OS != have.OS || want.Architecture != have.Architecture {
		return false
	}
	return want.Variant == "" || have.Variant == "" || normVariant(want) == normVariant(have)
}
