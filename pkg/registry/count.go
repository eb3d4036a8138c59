package registry

import (
	"net/http"
	"strings"
	"sync"
)

// Requests are the requests of a run that one host answered (a registry,
// or the token service or CDN it sends clients to): in all, by method, and
// by method and kind ("GET manifest", "POST mount", ...; see requestKind).
type Requests struct {
	Total   int            `json:"total"`
	Methods map[string]int `json:"methods"`
	Kinds   map[string]int `json:"kinds"`
}

// counter counts the requests that go through it and are answered, by
// host, method and kind. It sits at the bottom of a Client's transport,
// right above the caller's: what it counts is what the hosts answered,
// every attempt of a retried request included, and not the pings answered
// from the ping cache, nor a request that got no answer (a connection
// refused; the HTTPS attempt go-containerregistry makes first at a
// loopback registry that speaks plain HTTP). A registry's rate limit counts
// the requests it answers; so does this.
type counter struct {
	inner http.RoundTripper

	mu    sync.Mutex
	hosts map[string]*Requests
}

func newCounter(inner http.RoundTripper) *counter {
	return &counter{inner: inner, hosts: map[string]*Requests{}}
}

func (c *counter) RoundTrip(req *http.Request) (*http.Response, error) {
	kind := req.Method + " " + requestKind(req)
	resp, err := c.inner.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	c.mu.Lock()
	h := c.hosts[req.URL.Host]
	if h == nil {
		h = &Requests{Methods: map[string]int{}, Kinds: map[string]int{}}
		c.hosts[req.URL.Host] = h
	}
	h.Total++
	h.Methods[req.Method]++
	h.Kinds[kind]++
	c.mu.Unlock()
	return resp, nil
}

// snapshot copies the counts.
func (c *counter) snapshot() map[string]Requests {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]Requests, len(c.hosts))
	for host, h := range c.hosts {
		r := Requests{Total: h.Total, Methods: make(map[string]int, len(h.Methods)), Kinds: make(map[string]int, len(h.Kinds))}
		for k, n := range h.Methods {
			r.Methods[k] = n
		}
		for k, n := range h.Kinds {
			r.Kinds[k] = n
		}
		out[host] = r
	}
	return out
}

// requestKind names what a request asks of a registry, from its path: ping
// (GET /v2/), manifest, blob, upload (a blob upload's POST or PUT), mount
// (a cross-repository mount's POST), tags (a tag listing), referrers (the
// referrers API); anything outside /v2/ (a token request) is token.
func requestKind(req *http.Request) string {
	path := req.URL.Path
	if path == "/v2/" || path == "/v2" {
		return "ping"
	}
	if !strings.HasPrefix(path, "/v2/") {
		return "token"
	}
	// From the end: a repository's name may hold any of the API's words
	// (a repository "a/manifests/b" has blobs too).
	parts := strings.Split(path, "/")
	at := func(i int) string { // the i-th segment from the end, 1 the last
		if i > len(parts) {
			return ""
		}
		return parts[len(parts)-i]
	}
	switch {
	case at(2) == "tags" && at(1) == "list":
		return "tags"
	case at(2) == "manifests":
		return "manifest"
	case at(2) == "referrers":
		return "referrers"
	case at(3) == "blobs" && at(2) == "uploads", at(2) == "blobs" && at(1) == "uploads":
		if req.Method == http.MethodPost && req.URL.Query().Get("mount") != "" {
			return "mount"
		}
		return "upload"
	case at(2) == "blobs":
		return "blob"
	}
	return "other"
}

// Requests are the requests of the client answered so far, by host (host:port
// as in references). It is safe to call while the run goes on.
func (c *Client) Requests() map[string]Requests {
	if s := c.counts.snapshot(); len(s) > 0 {
		return s
	}
	return nil // no request: no "requests" in a report
}
