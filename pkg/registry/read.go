package registry

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The reading side: what a Client reads of the images it is given and of
// their bases, through the run's one puller.

// Manifest reads the manifest ref names (by tag or digest) with one GET,
// retried. Its bytes are digested as received: by digest, against the
// digest asked for; by tag, against the registry's Docker-Content-Digest
// (digestCheck).
func (c *Client) Manifest(ctx context.Context, ref name.Reference) ([]byte, v1.Descriptor, error) {
	var d *remote.Descriptor
	err := c.retry(ctx, func() (err error) {
		d, err = c.puller.Get(ctx, ref)
		return err
	})
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	return d.Manifest, d.Descriptor, nil
}

// Blob reads at most limit bytes of the blob ref, retried as a whole; its
// digest is verified as it is read (go-containerregistry's).
func (c *Client) Blob(ctx context.Context, ref name.Digest, limit int64) ([]byte, error) {
	var b []byte
	err := c.retry(ctx, func() (err error) {
		b, err = c.readBlob(ctx, ref, limit)
		return err
	})
	return b, err
}

func (c *Client) readBlob(ctx context.Context, ref name.Digest, limit int64) ([]byte, error) {
	l, err := c.puller.Layer(ctx, ref)
	if err != nil {
		return nil, err
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, limit))
}

// Layer is the blob ref as a layer, read when asked for.
func (c *Client) Layer(ctx context.Context, ref name.Digest) (v1.Layer, error) {
	return remote.Layer(ref, remote.Reuse(c.puller), remote.WithContext(ctx))
}

// Image is the image ref names, its parts read when asked for.
func (c *Client) Image(ctx context.Context, ref name.Digest) (v1.Image, error) {
	return remote.Image(ref, remote.Reuse(c.puller), remote.WithContext(ctx))
}

// Tags lists repo's tags (one listing, retried). distribution answers 404
// NAME_UNKNOWN for a repository that holds no tags (images pushed by digest
// only): that is no tags, not an error.
func (c *Client) Tags(ctx context.Context, repo name.Repository) ([]string, error) {
	var tags []string
	err := c.retry(ctx, func() (err error) {
		tags, err = c.puller.List(ctx, repo)
		return err
	})
	if Status(err) == http.StatusNotFound {
		return nil, nil
	}
	return tags, err
}

// Manifest reads a manifest of the writer's repository by tag or digest:
// its bytes and media type.
func (w *writer) Manifest(ctx context.Context, id string) (raw []byte, mt types.MediaType, err error) {
	err = w.c.retry(ctx, func() (err error) {
		raw, mt, err = w.get(ctx, "/manifests/"+id, strings.Join(ManifestTypes, ","))
		return err
	})
	return raw, mt, err
}

// Blob reads a blob of the writer's repository (at most MaxManifestSize
// bytes: a config, a signature).
func (w *writer) Blob(ctx context.Context, d v1.Hash) (b []byte, err error) {
	err = w.c.retry(ctx, func() (err error) {
		b, _, err = w.get(ctx, "/blobs/"+d.String(), "")
		return err
	})
	return b, err
}

// get reads a manifest or blob of the writer's repository.
func (w *writer) get(ctx context.Context, path, accept string) ([]byte, types.MediaType, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.url(path).String(), nil)
	if err != nil {
		return nil, "", err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxManifestSize))
	return b, types.MediaType(strings.TrimSpace(strings.Split(resp.Header.Get("Content-Type"), ";")[0])), err
}

// layer is a new-base layer described by its manifest descriptor
// (digest, size: no HEAD needed), read lazily from the base's repository
// when it has to be streamed rather than mounted.
type layer struct {
	ctx    context.Context
	puller *remote.Puller
	ref    name.Digest
	desc   v1.Descriptor
	copied atomic.Int64 // bytes read from another registry (crossreg.go)
}

// open reads the layer's compressed bytes from the base's repository. They
// must be as many as its descriptor says: an upload announces that length,
// and a base whose manifest names another would otherwise fail with
// net/http's "ContentLength=81 with Body length 91", which says nothing of
// what is wrong. (go-containerregistry checks their digest.)
func (l *layer) open() (io.ReadCloser, error) {
	rl, err := l.puller.Layer(l.ctx, l.ref)
	if err != nil {
		return nil, err
	}
	rc, err := rl.Compressed()
	if err != nil {
		return nil, err
	}
	return &sizedReader{ReadCloser: rc, ref: l.ref, want: l.desc.Size}, nil
}

// BlobSizeError is a blob whose bytes are not as many as the descriptor
// that names it says: the manifest is wrong, or the registry's answer.
type BlobSizeError struct {
	Ref  string // REPO@DIGEST
	Want int64  // the descriptor's size
	Got  int64  // the bytes read (at least, when more)
}

func (e *BlobSizeError) Error() string {
	if e.Got > e.Want {
		return fmt.Sprintf("the registry's answer for %s has more than the %d bytes its manifest says (the manifest or the registry is wrong)", e.Ref, e.Want)
	}
	return fmt.Sprintf("the registry's answer for %s has %d bytes, not the %d its manifest says (the manifest or the registry is wrong)", e.Ref, e.Got, e.Want)
}

// sizedReader fails a read past want bytes, or an end before them.
type sizedReader struct {
	io.ReadCloser
	ref  name.Digest
	want int64
	n    int64
}

func (r *sizedReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.n += int64(n)
	switch {
	case r.n > r.want:
		return 0, &BlobSizeError{Ref: r.ref.String(), Want: r.want, Got: r.n}
	case err == io.EOF && r.n < r.want:
		return n, &BlobSizeError{Ref: r.ref.String(), Want: r.want, Got: r.n}
	}
	return n, err
}
