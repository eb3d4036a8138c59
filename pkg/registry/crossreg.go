package registry

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// A new-base layer that lives on another registry than the image is copied
// across once per target registry, not once per repository: the first
// repository on a registry that needs it gets it streamed from the base's
// registry (a HEAD, then a POST and a PUT carrying the bytes); every other
// repository on that registry mounts it from the first (one POST). Needs for
// the same layer on the same registry that come while the first upload is in
// flight wait for it (Client.homes). A mount the registry will not make (the
// first repository's upload failed, a token without pull on it, a registry
// without cross-repository mounts) falls back to streaming: the layer is
// then copied again, never missing.

// crossLayer makes l, a layer of a base on another registry, present in w's
// repository.
func (w *writer) crossLayer(ctx context.Context, l *layer) error {
	key := w.repo.RegistryStr() + "|" + l.desc.Digest.String()
	owner := false
	home, err := w.c.homes.Get(ctx, key, func(ctx context.Context) (name.Repository, error) {
		owner = true
		return w.repo, w.stream(ctx, l)
	})
	switch {
	case owner:
		return err // our own upload: its error is ours
	case err != nil:
		if ctx.Err() != nil {
			return err
		}
		// Another repository's upload failed for a reason of its own (it
		// was denied, say): ours may still work.
		return w.stream(ctx, l)
	case home.Name() == w.repo.Name():
		return nil
	}
	// A token registry mounts only what the token may pull: ask for one
	// with pull on home too (one token request per repository and home; an
	// anonymous registry needs none).
	mw, err := w.c.writer(ctx, w.repo, home, true)
	if err != nil {
		return err
	}
	return w.c.retry(ctx, func() error {
		loc, mounted, err := mw.startUpload(ctx, l.desc.Digest.String(), home)
		if err != nil || mounted {
			return err
		}
		w.c.o.Logger.Printf("%s: %s could not be mounted from %s: streaming it from %s", w.repo, l.desc.Digest, home, l.ref.Context())
		return mw.finishUpload(ctx, loc, l.desc.Digest, l.desc.Size, l.countedOpen)
	})
}

// stream copies l into w's repository from the base's registry, unless the
// repository has it already (a HEAD).
func (w *writer) stream(ctx context.Context, l *layer) error {
	return w.c.retry(ctx, func() error {
		if ok, err := w.exists(ctx, l.desc.Digest); err != nil || ok {
			return err
		}
		loc, _, err := w.startUpload(ctx, "", name.Repository{})
		if err != nil {
			return err
		}
		w.c.o.Logger.Printf("%s: streaming %s (%d bytes) from %s", w.repo, l.desc.Digest, l.desc.Size, l.ref.Context())
		return w.finishUpload(ctx, loc, l.desc.Digest, l.desc.Size, l.countedOpen)
	})
}

// countedOpen is open, counting the bytes read from the base's registry
// into l.copied (a retried upload counts again: it read them again).
func (l *layer) countedOpen() (io.ReadCloser, error) {
	rc, err := l.open()
	if err != nil {
		return nil, err
	}
	return &countingReader{ReadCloser: rc, n: &l.copied}, nil
}

type countingReader struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// blobsRaced reports whether a manifest PUT was refused for a blob the
// registry did not find: MANIFEST_BLOB_UNKNOWN. The engine PUTs a manifest
// only after every blob it names was answered 2xx in this repository, so
// this is a registry that has them but could not read one: distribution's
// filesystem driver rewrites a blob's link file in place (truncate, write)
// on every mount or upload of it, and a manifest PUT reading it meanwhile
// finds it empty. Two processes (shards of one run) pushing the same base
// layers into the same repository hit it. The PUT is made again.
func blobsRaced(err error) bool {
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusBadRequest {
		return false
	}
	for _, d := range terr.Errors {
		if d.Code == transport.ManifestBlobUnknownErrorCode {
			return true
		}
	}
	return false
}

// putManifestRaced is putManifest, made again (up to 4 times in all, 50 ms,
// 100 ms, 200 ms apart) while the registry says a blob it has is unknown.
func (w *writer) putManifestRaced(ctx context.Context, identifier string, raw []byte, mt types.MediaType) error {
	d := 50 * time.Millisecond
	for i := 1; ; i++ {
		err := w.putManifestOnce(ctx, identifier, raw, mt)
		if err == nil || i == 4 || !blobsRaced(err) {
			return err
		}
		w.c.o.Logger.Printf("%s: manifest %s: %v: the blobs were pushed, trying again in %v", w.repo, identifier, err, d)
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return err
		}
		d *= 2
	}
}
