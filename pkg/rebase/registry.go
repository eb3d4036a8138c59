package rebase

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/rebasekit/rebasekit/internal/retry"
	"github.com/rebasekit/rebasekit/pkg/registry"
	"github.com/rebasekit/rebasekit/pkg/store"
)

// fetched is a manifest as the registry served it.
type fetched struct {
	ref       name.Reference
	digest    v1.Hash
	mediaType types.MediaType
	raw       []byte
	index     *v1.IndexManifest // when an index
	manifest  *v1.Manifest      // when an image
}

// manifest fetches ref with one GET, once per run (a tag is resolved once:
// every image of the run sees the same base).
func (r *Rebaser) manifest(ctx context.Context, ref name.Reference) (*fetched, error) {
	return r.manifests.get(ctx, ref.Name(), func(ctx context.Context) (*fetched, error) {
		return r.fetch(ctx, ref)
	})
}

// fetch gets ref without caching.
func (r *Rebaser) fetch(ctx context.Context, ref name.Reference) (*fetched, error) {
	raw, d, err := r.src.Manifest(ctx, ref)
	if err != nil {
		return nil, err
	}
	f := &fetched{ref: ref, digest: d.Digest, mediaType: d.MediaType, raw: raw}
	switch {
	case d.MediaType.IsIndex():
		if err = checkKeys(raw, indexType, "the index"); err == nil {
			f.index, err = v1.ParseIndexManifest(bytes.NewReader(raw))
		}
	case d.MediaType.IsImage():
		if err = checkKeys(raw, manifestType, "the manifest"); err == nil {
			f.manifest, err = v1.ParseManifest(bytes.NewReader(raw))
		}
	default:
		err = fmt.Errorf("unsupported media type %q", d.MediaType)
	}
	if err == nil {
		err = f.checkData()
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	return f, nil
}

// checkData verifies the content a descriptor embeds (data, base64, as the
// image-spec allows) against its digest and size, on every descriptor of
// the manifest: go-containerregistry, and so crane and ko, use the
// embedded bytes in place of the blob, and fail on a mismatch.
func (f *fetched) checkData() error {
	type named struct {
		where string
		d     *v1.Descriptor
	}
	var ds []named
	if f.index != nil {
		for i := range f.index.Manifests {
			ds = append(ds, named{fmt.Sprintf("the index's manifests[%d]", i), &f.index.Manifests[i]})
		}
		ds = append(ds, named{"the index's subject", f.index.Subject})
	}
	if f.manifest != nil {
		ds = append(ds, named{"the manifest's config", &f.manifest.Config})
		for i := range f.manifest.Layers {
			ds = append(ds, named{fmt.Sprintf("the manifest's layers[%d]", i), &f.manifest.Layers[i]})
		}
		ds = append(ds, named{"the manifest's subject", f.manifest.Subject})
	}
	for _, n := range ds {
		if n.d == nil || n.d.Data == nil {
			continue
		}
		hasher, err := v1.Hasher(n.d.Digest.Algorithm)
		if err != nil {
			return fmt.Errorf("%s: %w", n.where, err)
		}
		hasher.Write(n.d.Data)
		if h := (v1.Hash{Algorithm: n.d.Digest.Algorithm, Hex: hex.EncodeToString(hasher.Sum(nil))}); h != n.d.Digest || int64(len(n.d.Data)) != n.d.Size {
			return fmt.Errorf("%s embeds data (%d bytes, %s) that is not its content (%d bytes, %s): readers that use the embedded bytes get something else than the blob", n.where, len(n.d.Data), h, n.d.Size, n.d.Digest)
		}
	}
	return nil
}

// maxConfigSize bounds the config blobs we read into memory.
const maxConfigSize = 64 << 20

// blob reads a config from repo, verifying its digest, and checks that the
// typed decoder and the byte editor read the same document (checkKeys).
func (r *Rebaser) blob(ctx context.Context, repo name.Repository, d v1.Hash) ([]byte, error) {
	b, err := r.src.Blob(ctx, repo.Digest(d.String()), maxConfigSize+1)
	if err == nil && len(b) > maxConfigSize {
		return nil, fmt.Errorf("config %s is larger than %d bytes", d, maxConfigSize)
	}
	if err == nil {
		err = checkKeys(b, configType, "the config")
	}
	return b, err
}

// config reads a base's config once per run (content addressed).
func (r *Rebaser) config(ctx context.Context, repo name.Repository, d v1.Hash) ([]byte, error) {
	return r.configs.get(ctx, repo.Name()+"@"+d.String(), func(ctx context.Context) ([]byte, error) {
		return r.blob(ctx, repo, d)
	})
}

// rawManifest is a manifest we built and its media type, for a PUT.
type rawManifest struct {
	b  []byte
	mt types.MediaType
}

// configBlob is a config we built and its digest, for an upload.
type configBlob struct {
	b []byte
	d v1.Hash
}

// baseLayer is a new-base layer the image's repository may lack, described
// by its manifest descriptor (digest, size: no HEAD needed); the
// destination mounts it or copies it from ref.
type baseLayer struct {
	ref    name.Digest
	desc   v1.Descriptor
	copied atomic.Int64 // bytes copied from another registry by Write
}

// referrers lists what refers to digest d in repo. The OCI referrers API
// comes first (asked with w's client, one request): where the registry
// serves it, it is what the distribution spec says to read, and the
// referrers tag schema's fallback tag (sha256-<hex>) is not read; where it
// does not (it answered 404 or 405), that tag is the fallback. cosign's
// tags (sha256-<hex>.sig/.att/.sbom) are read either way: cosign writes
// them whatever the registry serves. Tags come from one listing per
// repository and run, which covers every digest of every image in it (a
// HEAD per cosign tag would be three a digest).
// A registry that answers the API with 404 has none (the spec forbids a 404
// from one that has it): it is not asked again in this run, for repositories
// under the same first path component (referrersScope).
func (r *Rebaser) referrers(ctx context.Context, repo name.Repository, d v1.Hash, w store.Repository) ([]Referrer, error) {
	im, err := r.referrersAPIAnswer(ctx, repo, d, w)
	if err != nil {
		// Not every registry serves the referrers API; the tags below
		// cover the fallback scheme.
		r.o.logger.Printf("%s: referrers API: %v", repo, err)
		im = nil
	}
	tags, err := r.repoTags(ctx, repo)
	if err != nil {
		return nil, fmt.Errorf("listing tags: %w", err)
	}
	var out []Referrer
	prefix := d.Algorithm + "-" + d.Hex
	for _, t := range tags {
		if t == prefix && im != nil {
			continue // the fallback tag: the API answered
		}
		if t == prefix || strings.HasPrefix(t, prefix+".") {
			out = append(out, Referrer{Of: d.String(), Ref: repo.Tag(t).Name(), Kind: tagKind(strings.TrimPrefix(t, prefix))})
		}
	}
	if im == nil {
		return out, nil // no API here: the tags above are the fallback scheme
	}
	for _, m := range im.Manifests {
		s := repo.Digest(m.Digest.String()).Name()
		if m.ArtifactType != "" {
			s += " (" + m.ArtifactType + ")"
		}
		out = append(out, Referrer{Of: d.String(), Ref: s, Kind: artifactKind(m.ArtifactType), ArtifactType: m.ArtifactType})
	}
	return out, nil
}

// repoTags lists repo's tags, once per run.
func (r *Rebaser) repoTags(ctx context.Context, repo name.Repository) ([]string, error) {
	return r.tags.get(ctx, repo.Name(), func(ctx context.Context) ([]string, error) {
		return r.src.Tags(ctx, repo) // a repository without tags has none
	})
}

// referrersAPIAnswer asks the OCI referrers API what refers to d: nil and
// no error when the registry has no such API. The first image on a
// registry finds out whether it has the API; the others wait for that
// answer instead of all asking. Only that verdict is shared: an error about
// this image's own request (a 403 on its repository) is this image's alone,
// and a transient one leaves the question open for the next image.
func (r *Rebaser) referrersAPIAnswer(ctx context.Context, repo name.Repository, d v1.Hash, w store.Repository) (*v1.IndexManifest, error) {
	ask := func(ctx context.Context) (im *v1.IndexManifest, noAPI bool, err error) {
		return w.Referrers(ctx, d)
	}
	var im *v1.IndexManifest
	asked := false
	var ownErr error
	has, merr := r.referrersAPI.get(ctx, referrersScope(repo), func(ctx context.Context) (bool, error) {
		var noAPI bool
		asked = true
		im, noAPI, ownErr = ask(ctx)
		if ownErr != nil {
			if ctx.Err() != nil || retry.Retryable(ownErr) {
				return false, ownErr // not remembered
			}
			return true, nil // unknown: later images ask for themselves
		}
		return !noAPI, nil
	})
	switch {
	case asked:
		if ownErr == nil && im == nil {
			im = &v1.IndexManifest{}
		}
		return im, ownErr
	case merr != nil:
		return nil, merr
	case !has:
		return nil, nil
	}
	im, _, err := ask(ctx)
	return im, err
}

// tagKind is what a cosign-style tag sha256-<hex><suffix> holds.
func tagKind(suffix string) ReferrerKind {
	switch suffix {
	case ".sig":
		return Signature
	case ".att":
		return Attestation
	case ".sbom":
		return SBOM
	}
	return OtherReferrer // the referrers fallback tag, or something else
}

// artifactKind is what an OCI artifact of artifactType t is.
func artifactKind(t string) ReferrerKind {
	switch {
	case strings.Contains(t, "cosign.artifact.sig"), strings.Contains(t, "notary.signature"),
		strings.HasPrefix(t, "application/vnd.dev.sigstore.bundle"):
		return Signature
	case strings.Contains(t, "cosign.artifact.sbom"), strings.Contains(t, "spdx"), strings.Contains(t, "cyclonedx"),
		strings.Contains(t, "syft"):
		return SBOM
	case strings.Contains(t, "cosign.artifact.att"), strings.Contains(t, "in-toto"), strings.Contains(t, "dsse"):
		return Attestation
	}
	return OtherReferrer
}

// referrersScope is what one answer about the referrers API is taken to
// hold for: the registry and the first component of a nested repository
// path, which is the repository key on Artifactory and the project on
// Harbor, hosts that serve repositories of different kinds side by side;
// all repositories of one component share the registry's answer.
func referrersScope(repo name.Repository) string {
	first, _, nested := strings.Cut(repo.RepositoryStr(), "/")
	if !nested {
		return repo.RegistryStr()
	}
	return repo.RegistryStr() + "/" + first + "/"
}

// Requests are the requests the run has sent so far to each host (a
// registry, or its token service), by method and kind: what a registry's
// rate limit counts. It is safe to call while the run goes on.
func (r *Rebaser) Requests() map[string]registry.Requests {
	return r.reg.Requests()
}

// jsonString is a small helper for building raw JSON strings.
func jsonString(s string) json.RawMessage {
	b, _ := marshal(s)
	return b
}
