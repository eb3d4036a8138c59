package packages

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
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
// one run. It is safe for concurrent use.
type Reader struct {
	opts   []remote.Option
	budget int64

	mu     sync.Mutex
	images map[string]*once[List]
	layers map[string]*once[*LayerFiles]
}

// NewReader returns a Reader that reads with opts (the run's keychain and
// transport) and reads at most budget uncompressed layer bytes per image
// (0: DefaultBudget).
func NewReader(budget int64, opts ...remote.Option) *Reader {
	if budget <= 0 {
		budget = DefaultBudget
	}
	return &Reader{opts: opts, budget: budget, images: map[string]*once[List]{}, layers: map[string]*once[*LayerFiles]{}}
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
// layers. A List that says its packages are unknown is not an error; an
// error is a registry's or a broken database's.
func (r *Reader) Image(ctx context.Context, ref name.Digest) (List, error) {
	return do(&r.mu, r.images, ref.String(), func() (List, error) {
		opts := append(append([]remote.Option(nil), r.opts...), remote.WithContext(ctx))
		l, ok, err := sbom(ref, opts)
		if err != nil {
			return List{}, fmt.Errorf("reading the SBOM attached to %s: %w", ref, err)
		}
		if ok {
			return l, nil
		}
		return r.fromLayers(ctx, ref, opts)
	})
}

func (r *Reader) fromLayers(ctx context.Context, ref name.Digest, opts []remote.Option) (List, error) {
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		return List{}, err
	}
	if desc.MediaType.IsIndex() {
		return List{}, fmt.Errorf("%s is an index: name one platform's manifest", ref)
	}
	var m v1.Manifest
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		return List{}, fmt.Errorf("%s: its manifest: %w", ref, err)
	}
	var fs FS
	spent := int64(0)
	for _, l := range m.Layers {
		lf, err := do(&r.mu, r.layers, ref.Context().RegistryStr()+"|"+l.Digest.String(), func() (*LayerFiles, error) {
			return r.layer(ref.Context().Digest(l.Digest.String()), opts)
		})
		var be *BudgetError
		if errors.As(err, &be) {
			return List{Unknown: be.Error()}, nil
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
func (r *Reader) layer(ref name.Digest, opts []remote.Option) (*LayerFiles, error) {
	l, err := remote.Layer(ref, opts...)
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
// (sha256-<hex>.sbom), then an OCI referrer of an SBOM artifact type.
func sbom(ref name.Digest, opts []remote.Option) (List, bool, error) {
	h, err := v1.NewHash(ref.DigestStr())
	if err != nil {
		return List{}, false, err
	}
	tag := ref.Context().Tag(h.Algorithm + "-" + h.Hex)
	for _, suffix := range []string{".att", ".sbom"} {
		t := ref.Context().Tag(tag.TagStr() + suffix)
		l, ok, err := fromArtifact(t, opts)
		if err != nil || ok {
			return l, ok, err
		}
	}
	idx, err := remote.Referrers(ref, opts...)
	if err != nil {
		if notFound(err) {
			return List{}, false, nil
		}
		return List{}, false, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return List{}, false, err
	}
	for _, d := range im.Manifests {
		if !sbomTypes[d.ArtifactType] && d.ArtifactType != string(types.MediaType("application/vnd.in-toto+json")) {
			continue
		}
		l, ok, err := fromArtifact(ref.Context().Digest(d.Digest.String()), opts)
		if err != nil || ok {
			return l, ok, err
		}
	}
	return List{}, false, nil
}

// fromArtifact reads the SBOM in the artifact manifest ref, if it has one:
// the first layer that is an SBOM, or an attestation of one.
func fromArtifact(ref name.Reference, opts []remote.Option) (List, bool, error) {
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		if notFound(err) {
			return List{}, false, nil
		}
		return List{}, false, err
	}
	var m v1.Manifest
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		return List{}, false, fmt.Errorf("%s: its manifest: %w", ref, err)
	}
	for _, l := range m.Layers {
		dsse := l.MediaType == "application/vnd.dsse.envelope.v1+json"
		pt := l.Annotations["predicateType"]
		if !(dsse && (pt == "" || IsSBOMPredicate(pt))) && !sbomTypes[string(l.MediaType)] {
			continue
		}
		b, err := blob(ref.Context().Digest(l.Digest.String()), l.Size, opts)
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

func blob(ref name.Digest, size int64, opts []remote.Option) ([]byte, error) {
	if size > maxSBOM {
		return nil, fmt.Errorf("%d bytes, more than the %d read of an SBOM", size, maxSBOM)
	}
	l, err := remote.Layer(ref, opts...)
	if err != nil {
		return nil, err
	}
	rc, err := l.Compressed() // the digest is checked at the end of the stream
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, io.LimitReader(rc, maxSBOM+1)); err != nil {
		return nil, err
	}
	if buf.Len() > maxSBOM {
		return nil, fmt.Errorf("more than the %d bytes read of an SBOM", maxSBOM)
	}
	return buf.Bytes(), nil
}

func notFound(err error) bool {
	var te *transport.Error
	if errors.As(err, &te) {
		if te.StatusCode == http.StatusNotFound {
			return true
		}
		for _, d := range te.Errors {
			if d.Code == transport.ManifestUnknownErrorCode || d.Code == transport.NameUnknownErrorCode {
				return true
			}
		}
	}
	return strings.Contains(err.Error(), "MANIFEST_UNKNOWN")
}
