package registry

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/rebasekit/rebasekit/internal/retry"
)

// The transport under every request of a run, top to bottom:
//
//	pingCache -> plainHTTPGuard -> digestCheck -> hostLimit -> the caller's transport
//
// with the registries' own limits (rateLimit, ratelimit.go) on top in a
// Client, and go-containerregistry's authenticating transports above.

// RoundTripper is net/http's: the caller's transport under every request
// of a run. It is named here so that the engine can take one in its options
// without importing net/http: HTTP is this package's business alone.
type RoundTripper = http.RoundTripper

// ErrPlainHTTP is the failure of a request in plain HTTP to a registry that
// is not on a loopback address, without Options.Insecure.
var ErrPlainHTTP = retry.ErrPlainHTTP

// NewTransport is the transport under every request of a run, over inner
// (the caller's): plain HTTP refused beyond loopback unless insecure, one
// ping per registry, manifests checked against their digest, at most
// maxRequests in flight per registry host (0 or less: no bound).
func NewTransport(inner http.RoundTripper, maxRequests int, insecure bool) http.RoundTripper {
	return newPingCache(plainHTTPGuard{
		inner:    digestCheck{inner: newHostLimit(inner, maxRequests)},
		insecure: insecure,
	})
}

// MaxManifestSize bounds the manifests read into memory (go-containerregistry
// reads at most 100 MiB too).
const MaxManifestSize = 100 << 20

// DigestMismatchError is a registry's answer for a manifest whose bytes do
// not have the digest they should: for a request by tag, the one the
// registry names in its Docker-Content-Digest header (on the answer, or on a
// redirect that led to it); for a request by digest, the one asked for. The
// manifest was changed on the way (a proxy, a cache, a CDN the registry
// redirects to) or the registry is broken. Its bytes are never used.
type DigestMismatchError struct {
	Ref      string  // the reference asked for (REPO:TAG or REPO@DIGEST)
	Header   v1.Hash // what the registry says the manifest's digest is; by digest, the digest asked for; zero when a redirect named none and the registry has no manifest Body
	Body     v1.Hash // the digest of the bytes it sent
	ByDigest bool    // asked for by digest
}

func (e *DigestMismatchError) Error() string {
	if e.ByDigest {
		return fmt.Sprintf("the registry's answer for %s does not have the digest asked for (the bytes received %s)", e.Ref, e.Body)
	}
	if e.Header == (v1.Hash{}) {
		return fmt.Sprintf("the registry's answer for %s came through a redirect that named no digest, and the registry has no manifest with the digest of the bytes received (%s): they were changed on the way", e.Ref, e.Body)
	}
	return fmt.Sprintf("the registry's answer for %s does not match its digest (Docker-Content-Digest %s, the bytes received %s)", e.Ref, e.Header, e.Body)
}

// digestCheck digests every manifest answer and fails it when its bytes do
// not have the digest asked for (by digest) or the one the registry names in
// a Docker-Content-Digest header (by tag). go-containerregistry checks
// answers to requests by digest, not by tag (its comment: too many
// registries get the header wrong); but a tag answer that is used unchecked
// makes the engine record, and push, digests that point nowhere. Schema 1
// manifests (whose header digest is of the signed payload) are not checked;
// the engine does not rebase them anyway.
//
// A request that was redirected (registry.k8s.io sends all of its API
// traffic to another host, CDN-fronted registries do the same) is checked as
// the request it began as: the redirected request's own path says nothing,
// and the header may be on the redirect, on the final answer, or on both
// (then the bytes must match each), whatever the number of redirects. When
// none of them names a digest, the registry is asked (a HEAD by the digest
// of the bytes received) whether it has that manifest: a redirected answer
// is never used on nobody's word. An answer from the registry itself with
// no header is used as it is: there is nobody else to ask.
type digestCheck struct{ inner http.RoundTripper }

func (c digestCheck) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.inner.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	if resp.Request == nil {
		resp.Request = req // how the redirect's request, if any, finds where it began
	}
	if req.Method != http.MethodGet || resp.StatusCode != http.StatusOK {
		return resp, nil
	}
	first, answers := req, []*http.Response{resp}
	for first.Response != nil && first.Response.Request != nil && len(answers) <= 20 {
		answers = append(answers, first.Response)
		first = first.Response.Request
	}
	repo, id, ok := manifestPath(first.URL.Path)
	if !ok {
		return resp, nil
	}
	mt := types.MediaType(resp.Header.Get("Content-Type"))
	if mt == types.DockerManifestSchema1 || mt == types.DockerManifestSchema1Signed {
		return resp, nil
	}
	var want []v1.Hash
	byDigest := false
	if h, err := v1.NewHash(id); err == nil {
		if h.Algorithm != "sha256" {
			return resp, nil // go-containerregistry checks other algorithms
		}
		want, byDigest = []v1.Hash{h}, true
	} else {
		for _, a := range answers {
			if h, err := v1.NewHash(a.Header.Get("Docker-Content-Digest")); err == nil && h.Algorithm == "sha256" {
				want = append(want, h)
			}
		}
	}
	redirected := len(answers) > 1
	if len(want) == 0 && !redirected {
		return resp, nil // no header to check against (it is optional), from the registry itself
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxManifestSize+1))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	got := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	ref := first.URL.Host + "/" + repo + ":" + id
	if byDigest {
		ref = first.URL.Host + "/" + repo + "@" + id
	}
	for _, h := range want {
		if got != h && len(body) <= MaxManifestSize {
			return nil, &DigestMismatchError{Ref: ref, Header: h, Body: got, ByDigest: byDigest}
		}
	}
	if len(want) == 0 && len(body) <= MaxManifestSize {
		// Redirected by tag, and no answer on the way named a digest: the
		// bytes came from another host than the registry asked, and nothing
		// the registry said vouches for them. Ask the registry whether it
		// has a manifest with their digest (a HEAD: no pull is counted).
		if err := c.confirm(first, repo, got); err != nil {
			var mm *DigestMismatchError
			if errors.As(err, &mm) {
				mm.Ref = ref
			}
			return nil, err
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// confirm asks the registry that first was sent to whether it has the
// manifest repo@got, by a HEAD with first's credentials, following
// redirects as the GET did. A registry that answers 404 does not have it:
// the bytes received were changed on the way (DigestMismatchError with no
// Header); a digest it names for the HEAD must be got.
func (c digestCheck) confirm(first *http.Request, repo string, got v1.Hash) error {
	u := *first.URL
	u.Path = "/v2/" + repo + "/manifests/" + got.String()
	u.RawPath = ""
	head, err := http.NewRequestWithContext(first.Context(), http.MethodHead, u.String(), nil)
	if err != nil {
		return err
	}
	for _, k := range []string{"Accept", "Authorization", "User-Agent"} {
		if v, ok := first.Header[k]; ok {
			head.Header[k] = v
		}
	}
	resp, err := (&http.Client{Transport: c.inner}).Do(head)
	if err != nil {
		return err
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return &DigestMismatchError{Body: got}
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("confirming the manifest %s through a redirect that named no digest: HEAD %s: %s", got, u.Redacted(), resp.Status)
	}
	if h, err := v1.NewHash(resp.Header.Get("Docker-Content-Digest")); err == nil && h != got {
		return &DigestMismatchError{Header: h, Body: got}
	}
	return nil
}

// manifestPath splits /v2/REPO/manifests/ID, ID a tag or a digest.
func manifestPath(path string) (repo, id string, ok bool) {
	rest, found := strings.CutPrefix(path, "/v2/")
	if !found {
		return "", "", false
	}
	i := strings.LastIndex(rest, "/manifests/")
	if i <= 0 {
		return "", "", false
	}
	repo, id = rest[:i], rest[i+len("/manifests/"):]
	if id == "" || strings.Contains(id, "/") {
		return "", "", false
	}
	return repo, id, true
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

// plainHTTPGuard refuses plain HTTP except to loopback hosts or with
// WithInsecure. go-containerregistry also falls back to HTTP for RFC 1918
// addresses and *.local names; we do not, so credentials and images never
// cross a network in clear text by surprise.
type plainHTTPGuard struct {
	inner    http.RoundTripper
	insecure bool
}

func (g plainHTTPGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !g.insecure && !isLoopback(req.URL.Hostname()) {
		return nil, fmt.Errorf("%w to %s: only loopback registries may use HTTP unless insecure registries are allowed", ErrPlainHTTP, req.URL.Host)
	}
	return g.inner.RoundTrip(req)
}

// isLoopback reports whether host names this machine. Host names are
// case-insensitive: LOCALHOST is localhost.
func isLoopback(host string) bool {
	host = strings.ToLower(host)
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// ParseReference parses s with opts, and lets a loopback registry answer in
// plain HTTP as go-containerregistry lets "localhost:PORT" and 127.0.0.1:
// it matches those spellings exactly, so LOCALHOST:5000 or 127.0.0.2 would
// be tried in HTTPS only, and fail against a local registry that the
// plain-HTTP guard allows.
func ParseReference(s string, opts ...name.Option) (name.Reference, error) {
	ref, err := name.ParseReference(s, opts...)
	if err != nil || ref.Context().Scheme() == "http" {
		return ref, err
	}
	u := url.URL{Host: ref.Context().RegistryStr()}
	if !isLoopback(u.Hostname()) {
		return ref, nil
	}
	return name.ParseReference(s, append(slices.Clip(opts), name.Insecure)...)
}
