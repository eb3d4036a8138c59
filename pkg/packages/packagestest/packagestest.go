// Package packagestest builds bases whose layers hold package databases in
// the real formats apk and dpkg write, and attaches SBOMs to images as
// cosign does, for the tests of package packages and of the commands.
package packagestest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/rebasekit/rebasekit/pkg/packages"
	"github.com/rebasekit/rebasekit/pkg/provenance"
	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// APKInstalled is lib/apk/db/installed listing pkgs, as apk writes it (a
// record per package: checksum, name, version, architecture, sizes, ...).
func APKInstalled(pkgs ...packages.Package) string {
	var b strings.Builder
	for _, p := range pkgs {
		fmt.Fprintf(&b, "C:Q1%sAAAAAAAAAAAAAAAAAAAAAAAA=\nP:%s\nV:%s\nA:x86_64\nS:352340\nI:905216\nT:the %s package\nU:https://example.org/%s\nL:Apache-2.0\no:%s\nm:Nobody <nobody@example.org>\nt:1717510052\nc:a4b6e6a9d4e7c2a7c7e8f9e0a1b2c3d4e5f6a7b8\nD:so:libc.musl-x86_64.so.1\nF:usr/bin\nR:%s\na:0:0:755\nZ:Q1Dp5vGeqgZ1SxRjmb8lPsuwQ1C3w=\n\n",
			strings.Repeat("x", 2), p.Name, p.Version, p.Name, p.Name, p.Name, p.Name)
	}
	return b.String()
}

// DistrolessStatus is one of distroless's var/lib/dpkg/status.d/* files: the
// package's stanza without a Status field, a Description with continuation
// lines.
func DistrolessStatus(p packages.Package) string {
	return fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: amd64\nMaintainer: Debian Maintainers <debian@lists.debian.org>\nInstalled-Size: 6236\nSection: libs\nPriority: optional\nMulti-Arch: same\nDescription: the %s package\n This package is the %s package.\n .\n It has a long description.\n", p.Name, p.Version, p.Name, p.Name)
}

// DpkgStatus is var/lib/dpkg/status listing pkgs as installed.
func DpkgStatus(pkgs ...packages.Package) string {
	var b strings.Builder
	for _, p := range pkgs {
		fmt.Fprintf(&b, "Package: %s\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\nVersion: %s\nDescription: the %s package\n with a continuation line\n\n", p.Name, p.Version, p.Name)
	}
	return b.String()
}

// PushBase pushes an index of rebasetest.BaseIndexPlatforms whose images have one
// layer per element of layers (path -> content), plus a first layer naming
// the version and platform, so no two bases share a layer unless they share
// a files map. It returns the index's digest and the platforms' digests.
func PushBase(ctx context.Context, ref, version string, layers []map[string]string, opts ...remote.Option) (v1.Hash, []v1.Hash, error) {
	return PushBaseFor(ctx, ref, version, func(v1.Platform) []map[string]string { return layers }, opts...)
}

// PushBaseFor is PushBase with layers of each platform's own.
func PushBaseFor(ctx context.Context, ref, version string, layersFor func(v1.Platform) []map[string]string, opts ...remote.Option) (v1.Hash, []v1.Hash, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return v1.Hash{}, nil, err
	}
	opts = append(opts, remote.WithContext(ctx))
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var plats []v1.Hash
	for _, p := range rebasetest.BaseIndexPlatforms { // what ko --platform=linux/amd64,linux/arm64 asks for
		img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
		ps := p.OS + "/" + p.Architecture
		all := append([]map[string]string{{"etc/base-release": version + " " + ps + "\n"}}, layersFor(p)...)
		for i, files := range all {
			l, err := rebasetest.Layer(files, types.OCILayer)
			if err != nil {
				return v1.Hash{}, nil, err
			}
			if img, err = mutate.Append(img, mutate.Addendum{Layer: l, MediaType: types.OCILayer,
				History: v1.History{Created: v1.Time{Time: rebasetest.Epoch}, CreatedBy: fmt.Sprintf("base %s layer %d", version, i)}}); err != nil {
				return v1.Hash{}, nil, err
			}
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return v1.Hash{}, nil, err
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
		cf.Created = v1.Time{Time: rebasetest.Epoch}
		cf.Config.Env = []string{"PATH=/usr/bin:/bin"}
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			return v1.Hash{}, nil, err
		}
		d, err := img.Digest()
		if err != nil {
			return v1.Hash{}, nil, err
		}
		plats = append(plats, d)
		p := p
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{MediaType: types.OCIManifestSchema1, Platform: &p}})
	}
	if err := remote.WriteIndex(r, idx, opts...); err != nil {
		return v1.Hash{}, nil, err
	}
	d, err := idx.Digest()
	return d, plats, err
}

// SPDX is an SPDX 2.3 JSON document listing pkgs, with the package of the
// image itself first, as syft and Chainguard write them.
func SPDX(pkgs ...packages.Package) []byte {
	type pkg struct {
		SPDXID  string `json:"SPDXID"`
		Name    string `json:"name"`
		Version string `json:"versionInfo"`
		Purpose string `json:"primaryPackagePurpose,omitempty"`
	}
	ps := []pkg{{SPDXID: "SPDXRef-Package-image", Name: "image", Version: "sha256:0", Purpose: "CONTAINER"}}
	for i, p := range pkgs {
		ps = append(ps, pkg{SPDXID: fmt.Sprintf("SPDXRef-Package-%d", i), Name: p.Name, Version: p.Version})
	}
	b, _ := json.Marshal(map[string]any{"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "name": "sbom", "packages": ps})
	return b
}

// AttachSBOM attaches doc (an SPDX JSON document) to the image ref as
// cosign attest --type spdxjson does: a DSSE envelope holding an in-toto
// statement whose predicate is doc, at the sha256-<hex>.att tag. The
// signature is a stand-in: readers of package lists do not check it.
func AttachSBOM(ctx context.Context, ref name.Digest, doc []byte, opts ...remote.Option) error {
	h, err := v1.NewHash(ref.DigestStr())
	if err != nil {
		return err
	}
	st, err := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v0.1",
		"predicateType": "https://spdx.dev/Document",
		"subject":       []map[string]any{{"name": ref.Context().Name(), "digest": map[string]string{"sha256": h.Hex}}},
		"predicate":     json.RawMessage(doc),
	})
	if err != nil {
		return err
	}
	env, err := json.Marshal(map[string]any{
		"payloadType": provenance.InTotoPayloadType,
		"payload":     base64.StdEncoding.EncodeToString(st),
		"signatures":  []map[string]string{{"keyid": "", "sig": "c3RhbmQtaW4="}},
	})
	if err != nil {
		return err
	}
	img, err := provenance.AttestationImage(nil, env, "https://spdx.dev/Document")
	if err != nil {
		return err
	}
	return remote.Write(ref.Context().Tag(h.Algorithm+"-"+h.Hex+".att"), img, append(opts, remote.WithContext(ctx))...)
}
