package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/rebasekit/rebasekit/internal/cache"
	"github.com/rebasekit/rebasekit/pkg/store"
)

// writer pushes into one repository with one authenticated client (one
// ping, one token with push on the repository and pull on the base's).
//
// It speaks the distribution API directly rather than through
// remote.Pusher: the pusher checks every blob with a HEAD before mounting it
// and uploads configs in four requests; a rebase is mostly mounts, and this
// halves its requests (see the rebase package's tests for the counts).
type writer struct {
	c      *Client
	repo   name.Repository
	from   name.Repository // mount source on the same registry, or repo
	client *http.Client
	blobs  cache.Memo[struct{}] // digests known to be in repo
}

// Open is the client of repo for writing into it, pulling from from
// (the repository on the same registry that layers are mounted from, or
// repo), or with push false for reading it with pull access only: the
// referrers a dry run reads cost the registry the same requests as a real
// run's. A Client opens one per repository and mount source in a run.
func (c *Client) Open(ctx context.Context, repo, from name.Repository, push bool) (store.Repository, error) {
	return c.writer(ctx, repo, from, push)
}

func (c *Client) writer(ctx context.Context, repo, from name.Repository, push bool) (*writer, error) {
	key := repo.Name()
	scopes := []string{repo.Scope(transport.PushScope)}
	if !push {
		key, scopes = "pull|"+key, []string{repo.Scope(transport.PullScope)}
	}
	if from.RegistryStr() != repo.RegistryStr() {
		from = repo
	} else if from.Name() != repo.Name() {
		key += "|" + from.Name()
		scopes = append(scopes, from.Scope(transport.PullScope))
	}
	return c.writers.Get(ctx, key, func(ctx context.Context) (*writer, error) {
		auth, err := authn.Resolve(ctx, c.o.Keychain, repo)
		if err != nil {
			return nil, fmt.Errorf("credentials for %s: %w", repo, err)
		}
		// The ping and the token request, retried like everything else.
		var tr http.RoundTripper
		err = c.retry(ctx, func() (err error) {
			tr, err = transport.NewWithContext(ctx, repo.Registry, auth, c.rt, scopes)
			return err
		})
		if err != nil {
			return nil, Describe("registry "+repo.RegistryStr(), err)
		}
		return &writer{c: c, repo: repo, from: from, client: &http.Client{Transport: tr, CheckRedirect: sameHostRedirects}}, nil
	})
}

// PutLayer makes the layer src (desc its descriptor, which names its
// digest and size: no HEAD needed) present in the repository: a
// cross-repository mount on the same registry (one request, which also
// succeeds when the blob is already there); from another registry,
// streamed once per registry and mounted from there (crossLayer). It
// returns the bytes it read from another registry.
func (w *writer) PutLayer(ctx context.Context, src name.Digest, desc v1.Descriptor) (int64, error) {
	l := &layer{ctx: ctx, puller: w.c.puller, ref: src, desc: desc}
	_, err := w.blobs.Get(ctx, l.desc.Digest.String(), func(ctx context.Context) (struct{}, error) {
		if w.from != l.ref.Context() {
			return struct{}{}, w.crossLayer(ctx, l) // crossreg.go
		}
		return struct{}{}, w.c.retry(ctx, func() error {
			loc, mounted, err := w.startUpload(ctx, l.desc.Digest.String(), w.from)
			if err != nil || mounted {
				return err
			}
			return w.finishUpload(ctx, loc, l.desc.Digest, l.desc.Size, l.open)
		})
	})
	return l.copied.Load(), err
}

// PutBlob uploads a blob held in memory (a config, a signature), once per
// digest and repository in a run, with the distribution spec's
// single-request monolithic upload: one POST that carries the blob. A
// registry that does not take it answers with an upload session (202, as
// distribution's registry, docker-registry 2.8, does), which the blob is
// then PUT to: two requests, as a POST and a PUT always were. The client
// remembers, for the run, each registry that did not take it: later
// uploads to it POST without the blob, so that it is sent once. Uploads
// already under way when the first answer comes still send it twice: a
// config or a signature is a few kilobytes, and waiting for the first
// answer would put a round trip on every image's critical path.
func (w *writer) PutBlob(ctx context.Context, d v1.Hash, b []byte) error {
	open := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	host := w.repo.RegistryStr()
	_, err := w.blobs.Get(ctx, d.String(), func(ctx context.Context) (struct{}, error) {
		return struct{}{}, w.c.retry(ctx, func() error {
			loc := ""
			if _, no := w.c.noMonolithic.Load(host); !no {
				var created bool
				var err error
				loc, created, err = w.post(ctx, url.Values{"digest": {d.String()}}, b)
				switch {
				case err == nil && created:
					return nil
				case err == nil: // a session: the blob goes into it
				case monolithicRefused(err):
					loc = ""
				default:
					return err
				}
				w.c.noMonolithic.Store(host, true)
			}
			if loc == "" {
				var err error
				if loc, _, err = w.startUpload(ctx, "", name.Repository{}); err != nil {
					return err
				}
			}
			return w.finishUpload(ctx, loc, d, int64(len(b)), open)
		})
	})
	return err
}

// monolithicRefused reports whether a registry's answer to a single-request
// upload says it does not understand that request (rather than that the
// upload is wrong): the blob is then uploaded in a session, as registries
// that do not take it but answer with one (202) get it.
func monolithicRefused(err error) bool {
	switch Status(err) {
	case http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusUnsupportedMediaType, http.StatusNotImplemented:
		return true
	}
	return false
}

func (w *writer) url(path string) *url.URL {
	return &url.URL{Scheme: w.repo.Scheme(), Host: w.repo.RegistryStr(), Path: "/v2/" + w.repo.RepositoryStr() + path}
}

// HasBlob reports whether the repository has the blob d (a HEAD).
func (w *writer) HasBlob(ctx context.Context, d v1.Hash) (ok bool, err error) {
	err = w.c.retry(ctx, func() (err error) {
		ok, err = w.exists(ctx, d)
		return err
	})
	return ok, err
}

func (w *writer) exists(ctx context.Context, d v1.Hash) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, w.url("/blobs/"+d.String()).String(), nil)
	if err != nil {
		return false, err
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK, http.StatusNotFound); err != nil {
		return false, err
	}
	return resp.StatusCode == http.StatusOK, nil
}

// startUpload POSTs an upload, asking for a mount of digest from from when
// given. It returns the upload location, or mounted.
func (w *writer) startUpload(ctx context.Context, digest string, from name.Repository) (string, bool, error) {
	var q url.Values
	if digest != "" {
		q = url.Values{"mount": {digest}, "from": {from.RepositoryStr()}}
	}
	return w.post(ctx, q, nil)
}

// post POSTs to the repository's uploads with the query q and, when body
// is not nil, the blob (a single-request upload). It returns the location
// of the upload session the registry opened (202), or created: the
// registry has the blob now (201: mounted, or uploaded).
func (w *writer) post(ctx context.Context, q url.Values, body []byte) (string, bool, error) {
	u := w.url("/blobs/uploads/")
	u.RawQuery = q.Encode()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body) // and GetBody, for a request made again after a 401
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), rd)
	if err != nil {
		return "", false, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return "", false, err
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusCreated, http.StatusAccepted); err != nil {
		return "", false, err
	}
	if resp.StatusCode == http.StatusCreated {
		return "", true, nil
	}
	loc, err := location(resp)
	return loc, false, err
}

// finishUpload PUTs the whole blob to the upload location (a monolithic
// upload: one request).
func (w *writer) finishUpload(ctx context.Context, loc string, d v1.Hash, size int64, open func() (io.ReadCloser, error)) error {
	u, err := url.Parse(loc)
	if err != nil {
		return err
	}
	q := u.Query()
	q.Set("digest", d.String())
	u.RawQuery = q.Encode()
	body, err := open()
	if err != nil {
		return err
	}
	defer body.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), body)
	if err != nil {
		return err
	}
	req.ContentLength = size
	req.GetBody = open
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := w.client.Do(req)
	var serr *BlobSizeError
	if errors.As(err, &serr) {
		return serr // not the PUT's URL: the blob is what is wrong
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return transport.CheckError(resp, http.StatusCreated, http.StatusNoContent, http.StatusAccepted)
}

// PutManifest PUTs a manifest by digest (or tag).
func (w *writer) PutManifest(ctx context.Context, identifier string, raw []byte, mt types.MediaType) error {
	return w.putManifestRaced(ctx, identifier, raw, mt) // crossreg.go
}

func (w *writer) putManifestOnce(ctx context.Context, identifier string, raw []byte, mt types.MediaType) error {
	return w.c.retry(ctx, func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, w.url("/manifests/"+identifier).String(), bytes.NewReader(raw))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", string(mt))
		resp, err := w.client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		return transport.CheckError(resp, http.StatusCreated, http.StatusOK, http.StatusAccepted)
	})
}

// TagDigest asks which manifest tag names now: a HEAD, whose
// Docker-Content-Digest answers it; a registry that sends none is asked with
// a GET, and the manifest's bytes are digested.
func (w *writer) TagDigest(ctx context.Context, tag string) (v1.Hash, error) {
	var h v1.Hash
	err := w.c.retry(ctx, func() error {
		for _, method := range []string{http.MethodHead, http.MethodGet} {
			req, err := http.NewRequestWithContext(ctx, method, w.url("/manifests/"+tag).String(), nil)
			if err != nil {
				return err
			}
			req.Header.Set("Accept", strings.Join(ManifestTypes, ","))
			resp, err := w.client.Do(req)
			if err != nil {
				return err
			}
			if method == http.MethodHead {
				resp.Body.Close()
				if err := transport.CheckError(resp, http.StatusOK); err != nil {
					return err
				}
				if h, err = v1.NewHash(resp.Header.Get("Docker-Content-Digest")); err == nil {
					return nil
				}
				continue
			}
			defer resp.Body.Close()
			if err := transport.CheckError(resp, http.StatusOK); err != nil {
				return err
			}
			h, _, err = v1.SHA256(io.LimitReader(resp.Body, MaxManifestSize))
			return err
		}
		return nil
	})
	return h, err
}

// ManifestTypes are the manifest media types the engine reads.
var ManifestTypes = []string{
	string(types.OCIImageIndex), string(types.OCIManifestSchema1),
	string(types.DockerManifestList), string(types.DockerManifestSchema2),
}

// location resolves an upload Location header. It refuses a different host
// that is a private or loopback address: a registry must not make us send
// an image to an internal service.
func location(resp *http.Response) (string, error) {
	loc := resp.Header.Get("Location")
	if loc == "" {
		return "", errors.New("registry gave no upload Location")
	}
	u, err := url.Parse(loc)
	if err != nil {
		return "", err
	}
	abs := resp.Request.URL.ResolveReference(u)
	if abs.Hostname() != resp.Request.URL.Hostname() {
		if ip := net.ParseIP(abs.Hostname()); ip != nil && (ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast()) {
			return "", fmt.Errorf("refusing upload location on private host %s", abs.Host)
		}
	}
	return abs.String(), nil
}

func sameHostRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("too many redirects")
	}
	return nil
}

// Referrers asks the OCI referrers API what refers to d: im lists them;
// noAPI, the registry has no such API (it answered 404 or 405), and
// im is empty.
func (w *writer) Referrers(ctx context.Context, d v1.Hash) (im *v1.IndexManifest, noAPI bool, err error) {
	err = w.c.retry(ctx, func() (err error) {
		im, noAPI, err = w.referrers(ctx, d)
		return err
	})
	return im, noAPI, err
}

// referrers asks the OCI referrers API once.
func (w *writer) referrers(ctx context.Context, d v1.Hash) (im *v1.IndexManifest, noAPI bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.url("/referrers/"+d.String()).String(), nil)
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("Accept", string(types.OCIImageIndex))
	resp, err := w.client.Do(req)
	if err != nil {
		return nil, false, err
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK, http.StatusNotFound, http.StatusBadRequest, http.StatusNotAcceptable, http.StatusMethodNotAllowed); err != nil {
		return nil, false, err
	}
	// The distribution spec: a registry that serves the referrers API never
	// answers it with 404. 404 and 405 mean the registry has no such API.
	noAPI = resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), string(types.OCIImageIndex)) {
		return &v1.IndexManifest{}, noAPI, nil
	}
	im, err = v1.ParseIndexManifest(io.LimitReader(resp.Body, 4<<20))
	return im, false, err
}
