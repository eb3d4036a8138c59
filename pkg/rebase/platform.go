package rebase

import (
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// platformString is os/arch[/variant][:os.version], as people write it.
func platformString(p *v1.Platform) string {
	if p == nil {
		return "unknown"
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	if p.OSVersion != "" {
		s += ":" + p.OSVersion
	}
	return s
}

// isPlatformImage reports whether an index child is an image for a real
// platform, as opposed to an attestation or other artifact.
func isPlatformImage(d v1.Descriptor) bool {
	if !d.MediaType.IsImage() || d.Platform == nil {
		return false
	}
	if d.Platform.OS == "" || d.Platform.OS == "unknown" || d.Platform.Architecture == "" || d.Platform.Architecture == "unknown" {
		return false
	}
	if _, ok := d.Annotations["vnd.docker.reference.type"]; ok { // buildkit attestations
		return false
	}
	// go-containerregistry writes the config media type as artifactType of
	// every image it appends; anything else is an artifact.
	return d.ArtifactType == "" || types.MediaType(d.ArtifactType).IsConfig()
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
// is exactly one; with several (arm/v6 and arm/v7) it is ambiguous and none
// is taken.
func childFor(idx *v1.IndexManifest, p *v1.Platform) (v1.Descriptor, bool) {
	if d, ok := exactChild(idx, p); ok || p == nil || p.Variant != "" {
		return d, ok
	}
	var found []v1.Descriptor
	for _, d := range idx.Manifests {
		if isPlatformImage(d) && looselySamePlatform(p, d.Platform) &&
			(p.OSVersion == "" || d.Platform.OSVersion == "" || osBuild(p.OSVersion) == osBuild(d.Platform.OSVersion)) {
			found = append(found, d)
		}
	}
	if len(found) != 1 {
		return v1.Descriptor{}, false
	}
	return found[0], true
}

func exactChild(idx *v1.IndexManifest, p *v1.Platform) (v1.Descriptor, bool) {
	var found *v1.Descriptor
	for i := range idx.Manifests {
		d := idx.Manifests[i]
		if !isPlatformImage(d) || !samePlatform(p, d.Platform) {
			continue
		}
		if d.Platform.OSVersion == p.OSVersion {
			return d, true
		}
		if found == nil {
			found = &idx.Manifests[i]
		}
	}
	if found == nil {
		return v1.Descriptor{}, false
	}
	return *found, true
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
