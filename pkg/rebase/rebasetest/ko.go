package rebasetest

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	imagespec "github.com/opencontainers/image-spec/specs-go/v1"
)

// This file is the one place that knows how ko v0.18 lays out and annotates
// the images it builds on a base. PushApp (in a registry) and KoApp (in
// memory) both build through it; they differ only in the app layers they add.

// Annotation keys ko writes (OCI image-spec names).
const (
	AnnotationBaseName   = imagespec.AnnotationBaseImageName
	AnnotationBaseDigest = imagespec.AnnotationBaseImageDigest
)

// koBuild adds an app's layers and config to base, a platform image of the
// base already carrying ko's annotations. layerType is the layer media type
// of the base's family (Docker or OCI), which ko's layers take.
type koBuild func(base v1.Image, layerType types.MediaType) (v1.Image, error)

// koAnnotations is what ko writes on everything it builds on baseName:
// base.name as given to ko and base.digest. With annotate false (an image
// from another builder) it is nil.
func koAnnotations(annotate bool, baseName, digest string) map[string]string {
	if !annotate {
		return nil
	}
	return map[string]string{AnnotationBaseName: baseName, AnnotationBaseDigest: digest}
}

// koImage is ko's image for one platform: the base image (digest baseDigest)
// annotated with base.name and base.digest, plus what build adds in layers of
// the base's media type family.
func koImage(base v1.Image, baseName string, baseDigest v1.Hash, annotate bool, build koBuild) (v1.Image, error) {
	mt, err := base.MediaType()
	if err != nil {
		return nil, err
	}
	layerType := types.OCILayer
	if mt == types.DockerManifestSchema2 {
		layerType = types.DockerLayer
	}
	img := base
	if a := koAnnotations(annotate, baseName, baseDigest.String()); a != nil {
		img = mutate.Annotations(base, a).(v1.Image)
	}
	return build(img, layerType)
}

// koIndex is ko's image index for an app on the multi-platform base (as
// baseName resolved to it), for the base's children in children:
//   - each child is koImage of the base child, and its descriptor keeps the
//     base descriptor's media type, platform and annotations;
//   - the index has the base index's media type and carries base.name and
//     base.digest = the digest of ko's own annotated copy of the base index,
//     which is NOT a manifest in any registry (ko annotates an OCI base before
//     reading its digest; a Docker manifest list cannot hold annotations, so
//     for those it is the base's real digest).
//
// It returns the empty annotated index and the children to append, so that
// callers choose how to append them (mutate.AppendManifests writes an
// artifactType on each child; PlainIndex removes it, as ko writes none) and
// can add children of their own.
func koIndex(base v1.ImageIndex, baseName string, children []v1.Descriptor, annotate bool, build koBuild) (v1.ImageIndex, []mutate.IndexAddendum, error) {
	baseType, err := base.MediaType()
	if err != nil {
		return nil, nil, err
	}
	baseDigest, err := base.Digest()
	if err != nil {
		return nil, nil, err
	}
	indexBaseDigest := baseDigest
	if a := koAnnotations(annotate, baseName, baseDigest.String()); a != nil && baseType != types.DockerManifestList {
		if indexBaseDigest, err = mutate.Annotations(base, a).(v1.ImageIndex).Digest(); err != nil {
			return nil, nil, err
		}
	}
	var adds []mutate.IndexAddendum
	for _, d := range children {
		child, err := base.Image(d.Digest)
		if err != nil {
			return nil, nil, err
		}
		img, err := koImage(child, baseName, d.Digest, annotate, build)
		if err != nil {
			return nil, nil, err
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			MediaType: d.MediaType, Platform: d.Platform, Annotations: d.Annotations,
		}})
	}
	idx := mutate.IndexMediaType(empty.Index, baseType)
	if a := koAnnotations(annotate, baseName, indexBaseDigest.String()); a != nil {
		idx = mutate.Annotations(idx, a).(v1.ImageIndex)
	}
	return idx, adds, nil
}
