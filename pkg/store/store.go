package store

import (
	"context"
	"errors"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Source is where images are read from: the images given, their old and
// new bases.
type Source interface {
	// Manifest reads the manifest ref names, by tag or by digest: its bytes
	// as stored, and a descriptor with their digest, size and media type.
	Manifest(ctx context.Context, ref name.Reference) ([]byte, v1.Descriptor, error)
	// Blob reads at most limit bytes of the blob ref (a config).
	Blob(ctx context.Context, ref name.Digest, limit int64) ([]byte, error)
	// Layer and Image are ref as go-containerregistry values whose bytes are
	// read when asked for (the planned images' layers and kept children).
	Layer(ctx context.Context, ref name.Digest) (v1.Layer, error)
	Image(ctx context.Context, ref name.Digest) (v1.Image, error)
	// Tags lists the tags of repo (none when it has none), for the tags
	// that name what refers to an image (cosign's sha256-HEX.sig).
	Tags(ctx context.Context, repo name.Repository) ([]string, error)
}

// Destination is where rebased images and their attachments are written.
type Destination interface {
	// Open is repo, to write into (push) or, with push false, only to read
	// what refers to its images. from is the repository on the same
	// destination that the layers to be written come from (their base's),
	// or repo; a destination that can link a blob from it without copying
	// (a registry's cross-repository mount) does.
	Open(ctx context.Context, repo, from name.Repository, push bool) (Repository, error)
}

// Repository is one repository of a Destination, opened for a rebase's
// writes: every write is by digest, and idempotent, but PutManifest by tag.
type Repository interface {
	// HasBlob reports whether the repository has the blob d.
	HasBlob(ctx context.Context, d v1.Hash) (bool, error)
	// PutLayer makes the layer src, described by desc, present: linked
	// (mounted), or copied from src's place. It returns the bytes it copied
	// from another place (0 when linked, or already present).
	PutLayer(ctx context.Context, src name.Digest, desc v1.Descriptor) (copied int64, err error)
	// PutBlob writes a blob held in memory (a config, a signature) of digest d.
	PutBlob(ctx context.Context, d v1.Hash, b []byte) error
	// PutManifest writes a manifest, under id: its digest, or a tag (which
	// moves the tag).
	PutManifest(ctx context.Context, id string, raw []byte, mt types.MediaType) error
	// Manifest and Blob read what is there now, by tag or digest (an
	// attachment is built on what its tag names).
	Manifest(ctx context.Context, id string) ([]byte, types.MediaType, error)
	Blob(ctx context.Context, d v1.Hash) ([]byte, error)
	// TagDigest is the digest of the manifest tag names now.
	TagDigest(ctx context.Context, tag string) (v1.Hash, error)
	// Referrers lists what refers to d (the OCI referrers API); noAPI: the
	// repository has no such index, which says nothing of fallback tags.
	Referrers(ctx context.Context, d v1.Hash) (im *v1.IndexManifest, noAPI bool, err error)
}

// ErrNotFound is an absence reported by a store that is not a registry (an
// OCI layout without the blob or the ref.name asked for); the registry
// package's IsNotFound reports it as it reports a 404.
var ErrNotFound = errors.New("not found")
