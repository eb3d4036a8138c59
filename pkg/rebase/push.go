package rebase

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
	"golang.org/x/sync/errgroup"

	"github.com/rebasekit/rebasekit/internal/retry"
	"github.com/rebasekit/rebasekit/pkg/registry"
)

// push writes a plan into repo, the image's own repository and the only one
// the engine ever writes to: for each rebased platform the new base's layers
// (mounted from the base's repository on the same registry, streamed from
// another registry, never re-uploaded when present), its config and its
// manifest; then the index. Everything is pushed by digest.
//
// It speaks the distribution API directly rather than through
// remote.Pusher: the pusher checks every blob with a HEAD before mounting it
// and uploads configs in four requests; a rebase is mostly mounts, and this
// halves its requests (see the package tests for the counts).
func (r *Rebaser) push(ctx context.Context, repo name.Repository, p *Plan) (*writer, error) {
	w, err := r.writer(ctx, repo, mountSource(repo, p), true)
	if err != nil {
		return nil, err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.o.jobs)
	for _, pp := range p.platforms {
		g.Go(func() error { return w.pushPlatform(gctx, pp) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if len(p.platforms) == 1 && p.platforms[0].newDigest == p.digest {
		return w, nil // a single image: its manifest is the top
	}
	return w, w.putManifest(ctx, p.digest.String(), p.manifest)
}

// mountSource is the repository the new base's layers are mounted from: the
// base's, or repo itself when nothing is to be mounted.
func mountSource(repo name.Repository, p *Plan) name.Repository {
	for _, pp := range p.platforms {
		if len(pp.layers) > 0 {
			return pp.layers[0].ref.Context()
		}
	}
	return repo
}

// client is the authenticated client of a plan's repository for the reads
// Plan makes with it (the referrers API): the writer Write will push with,
// or with dry run a reader with pull access only. Both cost the registry
// the same requests, so a dry run reads exactly what a real run reads.
func (r *Rebaser) client(ctx context.Context, p *Plan) (*writer, error) {
	repo := p.ref.Context()
	if r.o.dryRun {
		return r.writer(ctx, repo, repo, false)
	}
	return r.writer(ctx, repo, mountSource(repo, p), true)
}

func (w *writer) pushPlatform(ctx context.Context, pp *platformPlan) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(w.r.o.jobs)
	for _, l := range pp.layers {
		g.Go(func() error {
			l.ctx = gctx
			return w.layer(gctx, l)
		})
	}
	g.Go(func() error { return w.config(gctx, pp.config) })
	if err := g.Wait(); err != nil {
		return err
	}
	w.r.o.logger.Printf("%s: pushing %s manifest %s", w.repo, pp.res.Platform, pp.newDigest)
	if err := w.putManifest(ctx, pp.newDigest.String(), pp.manifest); err != nil {
		return err
	}
	pp.pushed.Store(true)
	return nil
}

// writer pushes into one repository with one authenticated client (one
// ping, one token with push on the repository and pull on the base's).
type writer struct {
	r      *Rebaser
	repo   name.Repository
	from   name.Repository // mount source on the same registry, or repo
	client *http.Client
	blobs  memo[struct{}] // digests known to be in repo
}

func (r *Rebaser) writer(ctx context.Context, repo, from name.Repository, push bool) (*writer, error) {
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
	return r.writers.get(ctx, key, func(ctx context.Context) (*writer, error) {
		auth, err := authn.Resolve(ctx, r.o.keychain, repo)
		if err != nil {
			return nil, fmt.Errorf("credentials for %s: %w", repo, err)
		}
		// The ping and the token request, retried like everything else.
		var tr http.RoundTripper
		err = r.retry(ctx, func() (err error) {
			tr, err = transport.NewWithContext(ctx, repo.Registry, auth, r.rt, scopes)
			return err
		})
		if err != nil {
			return nil, describe("registry "+repo.RegistryStr(), err)
		}
		return &writer{r: r, repo: repo, from: from, client: &http.Client{Transport: tr, CheckRedirect: sameHostRedirects}}, nil
	})
}

// layer makes a new-base layer present in the repository: a cross-repository
// mount on the same registry (one request, which also succeeds when the blob
// is already there); from another registry, streamed once per registry and
// mounted from there (crossLayer).
func (w *writer) layer(ctx context.Context, l *baseLayer) error {
	_, err := w.blobs.get(ctx, l.desc.Digest.String(), func(ctx context.Context) (struct{}, error) {
		if w.from != l.ref.Context() {
			return struct{}{}, w.crossLayer(ctx, l) // crossreg.go
		}
		return struct{}{}, w.r.retry(ctx, func() error {
			loc, mounted, err := w.startUpload(ctx, l.desc.Digest.String(), w.from)
			if err != nil || mounted {
				return err
			}
			return w.finishUpload(ctx, loc, l.desc.Digest, l.desc.Size, l.open)
		})
	})
	return err
}

// config uploads a config blob: a POST and a PUT.
func (w *writer) config(ctx context.Context, c configBlob) error {
	_, err := w.blobs.get(ctx, c.d.String(), func(ctx context.Context) (struct{}, error) {
		return struct{}{}, w.r.retry(ctx, func() error {
			loc, _, err := w.startUpload(ctx, "", name.Repository{})
			if err != nil {
				return err
			}
			return w.finishUpload(ctx, loc, c.d, int64(len(c.b)), c.open)
		})
	})
	return err
}

func (w *writer) url(path string) *url.URL {
	return &url.URL{Scheme: w.repo.Scheme(), Host: w.repo.RegistryStr(), Path: "/v2/" + w.repo.RepositoryStr() + path}
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
	u := w.url("/blobs/uploads/")
	if digest != "" {
		u.RawQuery = url.Values{"mount": {digest}, "from": {from.RepositoryStr()}}.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	if err != nil {
		return "", false, err
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

// putManifest PUTs a manifest by digest (or tag).
func (w *writer) putManifest(ctx context.Context, identifier string, m rawManifest) error {
	return w.putManifestRaced(ctx, identifier, m) // crossreg.go
}

func (w *writer) putManifestOnce(ctx context.Context, identifier string, m rawManifest) error {
	return w.r.retry(ctx, func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, w.url("/manifests/"+identifier).String(), bytes.NewReader(m.b))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", string(m.mt))
		resp, err := w.client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		return transport.CheckError(resp, http.StatusCreated, http.StatusOK, http.StatusAccepted)
	})
}

// tagDigest asks which manifest tag names now: a HEAD, whose
// Docker-Content-Digest answers it; a registry that sends none is asked with
// a GET, and the manifest's bytes are digested.
func (w *writer) tagDigest(ctx context.Context, tag string) (v1.Hash, error) {
	var h v1.Hash
	err := w.r.retry(ctx, func() error {
		for _, method := range []string{http.MethodHead, http.MethodGet} {
			req, err := http.NewRequestWithContext(ctx, method, w.url("/manifests/"+tag).String(), nil)
			if err != nil {
				return err
			}
			req.Header.Set("Accept", strings.Join(manifestTypes, ","))
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
			h, _, err = v1.SHA256(io.LimitReader(resp.Body, registry.MaxManifestSize))
			return err
		}
		return nil
	})
	return h, err
}

// manifestTypes are the manifest media types the engine reads.
var manifestTypes = []string{
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

// retry runs f under the run's retry policy (retry.Do).
func (r *Rebaser) retry(ctx context.Context, f func() error) error {
	return retry.Do(ctx, r.backoff(), r.o.logger.Printf, f)
}

// referrers asks the OCI referrers API; a registry without it gives none.
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
