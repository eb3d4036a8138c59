package rebase

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The transport under every request of a run, top to bottom:
//
//	pingCache -> plainHTTPGuard -> digestCheck -> hostLimit -> the caller's transport
//
// go-containerregistry's authenticating transports sit on top of it.

// maxManifestSize bounds the manifests read into memory (go-containerregistry
// reads at most 100 MiB too).
const maxManifestSize = 100 << 20

// DigestMismatchError is a registry's answer for a manifest asked for by tag
// whose bytes do not have the digest the registry names in its
// Docker-Content-Digest header: the manifest was changed on the way (a proxy,
// a cache) or the registry is broken. Its bytes are never used.
type DigestMismatchError struct {
	Ref    string  // the reference asked for (REPO:TAG)
	Header v1.Hash // what the registry says the manifest's digest is
	Body   v1.Hash // the digest of the bytes it sent
}

func (e *DigestMismatchError) Error() string {
	return fmt.Sprintf("the registry's answer for %s does not match its digest (Docker-Content-Digest %s, the bytes received %s)", e.Ref, e.Header, e.Body)
}

// digestCheck digests every manifest answer to a request by tag and fails it
// when the registry's Docker-Content-Digest names another digest.
// go-containerregistry checks answers to requests by digest, not by tag (its
// comment: too many registries get the header wrong); but a tag answer that
// is used unchecked makes the engine record, and push, digests that point
// nowhere. Schema 1 manifests (whose header digest is of the signed payload)
// are not checked; the engine does not rebase them anyway.
type digestCheck struct{ inner http.RoundTripper }

func (c digestCheck) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.inner.RoundTrip(req)
	if err != nil || req.Method != http.MethodGet || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	repo, tag, ok := manifestTag(req.URL.Path)
	if !ok {
		return resp, nil
	}
	header, herr := v1.NewHash(resp.Header.Get("Docker-Content-Digest"))
	mt := types.MediaType(resp.Header.Get("Content-Type"))
	if herr != nil || header.Algorithm != "sha256" || mt == types.DockerManifestSchema1 || mt == types.DockerManifestSchema1Signed {
		return resp, nil // no header to check against (it is optional)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxManifestSize+1))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	got := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	if got != header && len(body) <= maxManifestSize {
		return nil, &DigestMismatchError{Ref: req.URL.Host + "/" + repo + ":" + tag, Header: header, Body: got}
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// manifestTag splits /v2/REPO/manifests/TAG; a digest is not a tag.
func manifestTag(path string) (repo, tag string, ok bool) {
	rest, found := strings.CutPrefix(path, "/v2/")
	if !found {
		return "", "", false
	}
	i := strings.LastIndex(rest, "/manifests/")
	if i <= 0 {
		return "", "", false
	}
	repo, tag = rest[:i], rest[i+len("/manifests/"):]
	if tag == "" || strings.Contains(tag, ":") || strings.Contains(tag, "/") {
		return "", "", false
	}
	return repo, tag, true
}

// hostLimit bounds the requests in flight to each registry host, across the
// whole run: without it, jobs x platforms x layers requests can be open at
// once, which a registry answers with 429s and which can exhaust file
// descriptors. A request holds its slot until its answer's headers arrive
// (an upload's body is sent in that time); reading an answer's body does not
// hold one, so a layer streamed from one request into another can never
// wait on itself.
type hostLimit struct {
	inner http.RoundTripper
	n     int

	mu    sync.Mutex
	hosts map[string]chan struct{}
}

func newHostLimit(inner http.RoundTripper, n int) http.RoundTripper {
	if n <= 0 {
		return inner
	}
	return &hostLimit{inner: inner, n: n, hosts: map[string]chan struct{}{}}
}

func (l *hostLimit) RoundTrip(req *http.Request) (*http.Response, error) {
	l.mu.Lock()
	sem := l.hosts[req.URL.Host]
	if sem == nil {
		sem = make(chan struct{}, l.n)
		l.hosts[req.URL.Host] = sem
	}
	l.mu.Unlock()
	select {
	case sem <- struct{}{}:
	case <-req.Context().Done():
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, req.Context().Err()
	}
	defer func() { <-sem }()
	return l.inner.RoundTrip(req)
}

// errPanic marks a panic turned into an error.
var errPanic = errors.New("internal error")

// recovered turns a recovered panic value into an error that fails the
// image (and every image waiting on the same computation) instead of the
// whole run or, worse, leaving the waiters hanging.
func recovered(p any) error {
	return fmt.Errorf("%w (a bug: please report it): panic: %v", errPanic, p)
}
