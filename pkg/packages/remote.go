package packages

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/rebasekit/rebasekit/pkg/registry"
	"github.com/rebasekit/rebasekit/pkg/store"
)

// SBOM media and artifact types, as syft, cosign attach sbom and the OCI
// referrers of Chainguard's images carry them.
var sbomTypes = map[string]bool{
	"application/spdx+json":          true,
	"text/spdx+json":                 true,
	"application/vnd.cyclonedx+json": true,
	"application/vnd.cyclonedx":      false,
}

// maxSBOM bounds an SBOM or attestation read (a large distro's SBOM is a few
// megabytes).
const maxSBOM = 64 << 20

// Reader lists the packages of images in registries, each image once and
// each layer blob once however many images share it: it is meant to live for
// one run. It reads through the run's store (the engine's registry client:
// its bound on requests in flight, its retries, its plain-HTTP guard, its
// digest checks), so a summary costs the registries what the run's other
// reads cost. It is safe for concurrent use.
type Reader struct {
	src    store.Source
	dst    store.Destination
	budget int64

	mu     sync.Mutex
	images map[string]*once[List]
	layers map[string]*once[*LayerFiles]
}

// NewReader returns a Reader that reads manifests and blobs from src and
// asks dst (opened for reading only) what refers to an image, for the
// SBOMs attached as OCI referrers; dst nil reads cosign's tags alone. It
// reads at most budget uncompressed layer bytes per image (0:
// DefaultBudget). A *registry.Client is both.
func NewReader(src store.Source, dst store.Destination, budget int64) *Reader {
	if budget <= 0 {
		budget = DefaultBudget
	}
	return &Reader{src: src, dst: dst, budget: budget, images: map[string]*once[List]{}, layers: map[string]*once[*LayerFiles]{}}
}

type once[V any] struct {
	done chan struct{}
	v    V
	err  error
}

func do[V any](mu *sync.Mutex, m map[string]*once[V], key string, f func() (V, error)) (V, error) {
	mu.Lock()
	e, ok := m[key]
	if !ok {
		e = &once[V]{done: make(chan struct{})}
		m[key] = e
	}
	mu.Unlock()
	if !ok {
		e.v, e.err = f()
		close(e.done)
	}
	<-e.done
	return e.v, e.err
}

// Image lists the packages of the image ref (a platform's manifest, by
// digest): from an SBOM attached to it when there is one, else from its
// layers. An SBOM that cannot be read is no reason to know nothing: the
// layers are read, and the List says why the SBOM was not used
// (SBOMError). A List that says its packages are unknown is not an error;
// an error is a registry's or a broken database's.
func (r *Reader) Image(ctx context.Context, ref name.Digest) (List, error) {
	return do(&r.mu, r.images, ref.String(), func() (List, error) {
		l, ok, err := r.sbom(ctx, ref)
		if err == nil && ok {
			return l, nil
		}
		if ctx.Err() != nil {
			return List{}, ctx.Err()
		}
		l, lerr := r.fromLayers(ctx, ref)
		if err != nil {
			l.SBOMError = fmt.Sprintf("reading the SBOM attached to %s: %v", ref, err)
		}
		return l, lerr
	})
}

func (r *Reader) fromLayers(ctx context.Context, ref name.Digest) (List, error) {
	raw, desc, err := r.src.Manifest(ctx, ref)
	if err != nil {
		return List{}, err
	}
	if desc.MediaType.IsIndex() {
		return List{}, fmt.Errorf("%s is an index: name one platform's manifest", ref)
	}
	var m v1.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return List{}, fmt.Errorf("%s: its manifest: %w", ref, err)
	}
	var fs FS
	spent := int64(0)
	for _, l := range m.Layers {
		lf, err := do(&r.mu, r.layers, ref.Context().RegistryStr()+"|"+l.Digest.String(), func() (*LayerFiles, error) {
			return r.layer(ctx, ref.Context().Digest(l.Digest.String()))
		})
		var be *BudgetError
		if errors.As(err, &be) {
			return List{Unknown: be.Error()}, nil
		}
		var se *DBSizeError
		if errors.As(err, &se) {
			return List{Unknown: se.Error()}, nil
		}
		if err != nil {
			return List{}, fmt.Errorf("layer %s of %s: %w", l.Digest, ref, err)
		}
		if spent += lf.Size; spent > r.budget {
			return List{Unknown: (&BudgetError{Budget: r.budget}).Error()}, nil
		}
		fs.Apply(lf)
	}
	return fs.List()
}

// layer streams one layer blob (its digest checked as it is read) and keeps
// its package databases.
func (r *Reader) layer(ctx context.Context, ref name.Digest) (*LayerFiles, error) {
	l, err := r.src.Layer(ctx, ref)
	if err != nil {
		return nil, err
	}
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return ScanLayer(rc, r.budget)
}

// sbom looks for an SBOM attached to ref: a cosign attestation
// (sha256-<hex>.att) with an SBOM predicate, a cosign SBOM
// (sha256-<hex>.sbom), then an OCI referrer of an SBOM artifact type (the
// referrers API, else its fallback tag sha256-<hex>).
func (r *Reader) sbom(ctx context.Context, ref name.Digest) (List, bool, error) {
	h, err := v1.NewHash(ref.DigestStr())
	if err != nil {
		return List{}, false, err
	}
	tag := ref.Context().Tag(h.Algorithm + "-" + h.Hex)
	for _, suffix := range []string{".att", ".sbom"} {
		t := ref.Context().Tag(tag.TagStr() + suffix)
		l, ok, err := r.fromArtifact(ctx, t)
		if err != nil || ok {
			return l, ok, err
		}
	}
	im, err := r.referrers(ctx, ref.Context(), h, tag)
	if err != nil || im == nil {
		return List{}, false, err
	}
	for _, d := range im.Manifests {
		if !sbomTypes[d.ArtifactType] && d.ArtifactType != "application/vnd.in-toto+json" {
			continue
		}
		l, ok, err := r.fromArtifact(ctx, ref.Context().Digest(d.Digest.String()))
		if err != nil || ok {
			return l, ok, err
		}
	}
	return List{}, false, nil
}

// referrers lists what refers to h in repo: the referrers API, else the
// index its fallback tag names; nil when neither is there.
func (r *Reader) referrers(ctx context.Context, repo name.Repository, h v1.Hash, fallback name.Tag) (*v1.IndexManifest, error) {
	if r.dst != nil {
		w, err := r.dst.Open(ctx, repo, repo, false)
		if err != nil {
			return nil, err
		}
		im, noAPI, err := w.Referrers(ctx, h)
		if err != nil && !registry.IsNotFound(err) {
			return nil, err
		}
		if err == nil && !noAPI {
			return im, nil
		}
	}
	raw, _, err := r.src.Manifest(ctx, fallback)
	if registry.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: its referrers index: %w", fallback, err)
	}
	return im, nil
}

// fromArtifact reads the SBOM in the artifact manifest ref, if it has one:
// the first layer that is an SBOM, or an attestation of one.
func (r *Reader) fromArtifact(ctx context.Context, ref name.Reference) (List, bool, error) {
	raw, _, err := r.src.Manifest(ctx, ref)
	if err != nil {
		if registry.IsNotFound(err) {
			return List{}, false, nil
		}
		return List{}, false, err
	}
	var m v1.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return List{}, false, fmt.Errorf("%s: its manifest: %w", ref, err)
	}
	for _, l := range m.Layers {
		dsse := l.MediaType == "application/vnd.dsse.envelope.v1+json"
		pt := l.Annotations["predicateType"]
		if !(dsse && (pt == "" || IsSBOMPredicate(pt))) && !sbomTypes[string(l.MediaType)] {
			continue
		}
		if l.Size > maxSBOM {
			return List{}, false, fmt.Errorf("%s: layer %s: %d bytes, more than the %d read of an SBOM", ref, l.Digest, l.Size, maxSBOM)
		}
		b, err := r.src.Blob(ctx, ref.Context().Digest(l.Digest.String()), maxSBOM+1)
		if err == nil && len(b) > maxSBOM {
			err = fmt.Errorf("more than the %d bytes read of an SBOM", maxSBOM)
		}
		if err != nil {
			return List{}, false, fmt.Errorf("%s: layer %s: %w", ref, l.Digest, err)
		}
		var list List
		ok := true
		if dsse {
			list, ok, err = ParseAttestation(b)
		} else {
			list, err = ParseSBOM(b)
		}
		if err != nil {
			return List{}, false, fmt.Errorf("%s: %w", ref, err)
		}
		if ok {
			list.Where = ref.String()
			return list, true, nil
		}
	}
	return List{}, false, nil
}
