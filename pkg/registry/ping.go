package registry

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// pingCache answers a registry's ping (an unauthenticated GET /v2/) from the
// first answer it gave in this run.
//
// go-containerregistry builds one authenticated transport per repository
// (remote.Puller's fetchers, and our writers), and each one starts with a
// ping to learn the registry's auth challenge. The challenge belongs to the
// registry, not to the repository, so one ping per registry and scheme is
// enough; the token exchange that follows stays per repository, as scopes
// differ. Only 200 and 401 answers are kept: an error, a 5xx or a redirect
// is not, so the next transport pings again; except that an HTTPS ping that
// failed is answered with the same failure, at once, once the registry has
// answered in plain HTTP (a loopback registry, or one allowed insecure,
// which go-containerregistry tries in HTTPS first for every repository: a
// round trip each, to a remote one).
type pingCache struct {
	inner http.RoundTripper
	// wait bounds how long a ping waits for the one in flight before it
	// goes to the registry itself: one stuck connection must not hold up
	// every image on the registry until its timeout.
	wait time.Duration

	mu      sync.Mutex
	entries map[string]*pingEntry // scheme://host -> answer
}

type pingEntry struct {
	sem    chan struct{} // held while a ping is in flight
	ok     bool          // an answer is kept
	status int
	header http.Header
	body   []byte
	failed error // an HTTPS ping's failure, replayed once HTTP answered
}

// maxPingBody bounds the body kept of a ping answer (distribution answers
// "{}"); a longer one is passed on and not kept.
const maxPingBody = 64 << 10

func newPingCache(inner http.RoundTripper) *pingCache {
	return &pingCache{inner: inner, wait: 5 * time.Second, entries: map[string]*pingEntry{}}
}

func isPing(req *http.Request) bool {
	return req.Method == http.MethodGet && req.URL.Path == "/v2/" && req.URL.RawQuery == "" &&
		req.Header.Get("Authorization") == ""
}

func (c *pingCache) RoundTrip(req *http.Request) (*http.Response, error) {
	if !isPing(req) {
		return c.inner.RoundTrip(req)
	}
	key := req.URL.Scheme + "://" + req.URL.Host
	c.mu.Lock()
	e := c.entries[key]
	if e == nil {
		e = &pingEntry{sem: make(chan struct{}, 1)}
		c.entries[key] = e
	}
	c.mu.Unlock()

	// Pings to one registry wait for the one in flight, so that a burst of
	// new transports (--jobs of them) costs one request, not --jobs; but not
	// for longer than c.wait.
	t := time.NewTimer(c.wait)
	defer t.Stop()
	select {
	case e.sem <- struct{}{}:
	case <-t.C:
		return c.inner.RoundTrip(req)
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
	defer func() { <-e.sem }()
	if e.ok {
		return e.answer(req), nil
	}
	if e.failed != nil && c.answered("http://"+req.URL.Host) {
		return nil, e.failed
	}
	resp, err := c.inner.RoundTrip(req)
	var nerr net.Error
	if err != nil && req.URL.Scheme == "https" && req.Context().Err() == nil && !(errors.As(err, &nerr) && nerr.Timeout()) {
		e.failed = err // a timeout may pass: not replayed
	}
	if err != nil || (resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnauthorized) {
		return resp, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPingBody+1))
	if err != nil {
		resp.Body.Close()
		return nil, err
	}
	if len(body) > maxPingBody {
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(body), resp.Body), resp.Body}
		return resp, nil
	}
	resp.Body.Close()
	e.ok, e.status, e.header, e.body = true, resp.StatusCode, resp.Header.Clone(), body
	return e.answer(req), nil
}

// answered reports whether key (scheme://host) has a kept answer.
func (c *pingCache) answered(key string) bool {
	c.mu.Lock()
	e := c.entries[key]
	c.mu.Unlock()
	if e == nil {
		return false
	}
	select {
	case e.sem <- struct{}{}:
		defer func() { <-e.sem }()
		return e.ok
	default:
		return false // being pinged now: not known yet
	}
}

// answer is a fresh copy of the kept answer, as a response to req.
func (e *pingEntry) answer(req *http.Request) *http.Response {
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", e.status, http.StatusText(e.status)),
		StatusCode:    e.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        e.header.Clone(),
		Body:          io.NopCloser(bytes.NewReader(e.body)),
		ContentLength: int64(len(e.body)),
		Request:       req,
	}
}
