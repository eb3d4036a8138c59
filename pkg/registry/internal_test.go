package registry

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/rebasekit/rebasekit/internal/retry"
)

func TestPlainHTTPOnlyForLoopback(t *testing.T) {
	for host, ok := range map[string]bool{
		"localhost": true, "127.0.0.1": true, "127.5.6.7": true, "::1": true, "[::1]": true, "registry.localhost": true,
		"LOCALHOST": true, "LocalHost": true, "REGISTRY.LOCALHOST": true,
		"10.0.0.1": false, "192.168.1.2": false, "registry.local": false, "example.com": false,
	} {
		if isLoopback(host) != ok {
			t.Errorf("isLoopback(%q) = %v", host, !ok)
		}
	}
	g := plainHTTPGuard{inner: http.DefaultTransport}
	req, _ := http.NewRequest(http.MethodGet, "http://10.0.0.1:5000/v2/", nil)
	if _, err := g.RoundTrip(req); !errors.Is(err, ErrPlainHTTP) || retry.Retryable(err) {
		t.Errorf("plain HTTP to 10.0.0.1 without --insecure: %v, want refused, not retried", err)
	}
	// With --insecure, or to loopback, the request goes through.
	var seen []string
	inner := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		seen = append(seen, r.URL.Host)
		return nil, errors.New("sent")
	})
	for _, c := range []struct {
		url      string
		insecure bool
	}{{"http://10.0.0.1:5000/v2/", true}, {"http://127.0.0.1:5000/v2/", false}, {"http://localhost:5000/v2/", false}} {
		req, _ := http.NewRequest(http.MethodGet, c.url, nil)
		if _, err := (plainHTTPGuard{inner: inner, insecure: c.insecure}).RoundTrip(req); err == nil || err.Error() != "sent" {
			t.Errorf("%s (insecure %v): %v, want it sent", c.url, c.insecure, err)
		}
	}
	if len(seen) != 3 {
		t.Errorf("sent %v", seen)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestPingCache(t *testing.T) {
	var mu sync.Mutex
	sent := map[string]int{}
	answers := map[string]func() *http.Response{
		"a.example": func() *http.Response { return answer(http.StatusOK, "{}", nil) },
		"b.example": func() *http.Response {
			return answer(http.StatusUnauthorized, "", http.Header{"Www-Authenticate": {`Bearer realm="https://b.example/token",service="b"`}})
		},
		"c.example": func() *http.Response { return answer(http.StatusServiceUnavailable, "busy", nil) },
		"d.example": func() *http.Response { return answer(http.StatusOK, strings.Repeat("x", maxPingBody+10), nil) },
	}
	inner := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		sent[r.Method+" "+r.URL.String()]++
		mu.Unlock()
		time.Sleep(5 * time.Millisecond) // let the other pings pile up
		resp := answers[r.URL.Host]()
		resp.Request = r
		return resp, nil
	})
	c := newPingCache(inner)
	get := func(url string, auth bool) (int, http.Header, string) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if auth {
			req.Header.Set("Authorization", "Basic eDp5")
		}
		resp, err := c.RoundTrip(req)
		if err != nil {
			t.Error(err)
			return 0, nil, ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.Request != req {
			t.Errorf("%s: the response is not for the request", url)
		}
		return resp.StatusCode, resp.Header, string(b)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for _, h := range []string{"a", "b", "c", "d"} {
				get("https://"+h+".example/v2/", false)
			}
		})
	}
	wg.Wait()
	// Repeated answers are whole copies.
	if code, _, body := get("https://a.example/v2/", false); code != 200 || body != "{}" {
		t.Errorf("a: %d %q", code, body)
	}
	if code, h, _ := get("https://b.example/v2/", false); code != 401 || !strings.Contains(h.Get("WWW-Authenticate"), `realm="https://b.example/token"`) {
		t.Errorf("b: %d %v", code, h)
	}
	if _, _, body := get("https://d.example/v2/", false); len(body) != maxPingBody+10 {
		t.Errorf("d: a long body came back with %d bytes", len(body))
	}
	// Not pings: passed on every time.
	get("https://a.example/v2/", true)
	get("https://a.example/v2/app/manifests/latest", false)
	get("http://a.example/v2/", false) // another scheme, another answer

	want := map[string]int{
		"GET https://a.example/v2/":                     2, // once as a ping, once with Authorization
		"GET https://b.example/v2/":                     1,
		"GET https://c.example/v2/":                     8, // a 503 is not kept
		"GET https://d.example/v2/":                     9, // too long to keep
		"GET https://a.example/v2/app/manifests/latest": 1,
		"GET http://a.example/v2/":                      1,
	}
	if fmt.Sprint(sent) != fmt.Sprint(want) {
		t.Errorf("sent %v\nwant %v", sent, want)
	}
}

func answer(code int, body string, h http.Header) *http.Response {
	if h == nil {
		h = http.Header{}
	}
	return &http.Response{StatusCode: code, Header: h, Body: io.NopCloser(strings.NewReader(body))}
}

// A ping stuck in flight holds the others up for c.wait at most: then they
// go to the registry themselves.
func TestPingCacheStuckPing(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	calls := 0
	c := newPingCache(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		calls++
		first := calls == 1
		mu.Unlock()
		if first {
			<-release // a connection that hangs
		}
		resp := answer(http.StatusOK, "{}", nil)
		resp.Request = r
		return resp, nil
	}))
	c.wait = 50 * time.Millisecond
	ping := func() error {
		req, _ := http.NewRequest(http.MethodGet, "https://slow.example/v2/", nil)
		resp, err := c.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	stuck := make(chan error, 1)
	go func() { stuck <- ping() }()
	for {
		mu.Lock()
		n := calls
		mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	done := make(chan error, 1)
	go func() { done <- ping() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("second ping: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the second ping waits for the stuck one")
	}
	close(release)
	if err := <-stuck; err != nil {
		t.Error(err)
	}
	if calls != 2 {
		t.Errorf("%d pings sent, want 2", calls)
	}
}

// A base layer's bytes must be as many as its descriptor says, more or
// fewer: the error names the layer, not the upload.
func TestSizedReader(t *testing.T) {
	ref, _ := name.NewDigest("registry.example/base@sha256:" + strings.Repeat("a", 64))
	for _, c := range []struct {
		body string
		want string
	}{
		{"0123456789", "the registry's answer for " + ref.String() + " has more than the 8 bytes its manifest says (the manifest or the registry is wrong)"},
		{"0123", "the registry's answer for " + ref.String() + " has 4 bytes, not the 8 its manifest says (the manifest or the registry is wrong)"},
		{"01234567", ""},
	} {
		_, err := io.ReadAll(&sizedReader{ReadCloser: io.NopCloser(strings.NewReader(c.body)), ref: ref, want: 8})
		var serr *BlobSizeError
		if c.want == "" && err != nil || c.want != "" && (!errors.As(err, &serr) || err.Error() != c.want) {
			t.Errorf("%q: %v, want %q", c.body, err, c.want)
		}
	}
}

// A registry in plain HTTP (loopback, or allowed insecure) is pinged in
// HTTPS first by every new transport: once HTTP has answered, the HTTPS
// failure is replayed instead of being asked again.
func TestPingCacheHTTPSFailureReplayed(t *testing.T) {
	sent := map[string]int{}
	tlsErr := errors.New("tls: first record does not look like a TLS handshake")
	inner := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		sent[r.URL.String()]++
		if r.URL.Scheme == "https" {
			return nil, tlsErr
		}
		resp := answer(http.StatusOK, "{}", nil)
		resp.Request = r
		return resp, nil
	})
	c := newPingCache(inner)
	ping := func(scheme string) error {
		req, _ := http.NewRequest(http.MethodGet, scheme+"://127.0.0.1:5000/v2/", nil)
		resp, err := c.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	for range 3 { // three transports, as for three repositories
		if err := ping("https"); !errors.Is(err, tlsErr) {
			t.Fatalf("https ping: %v, want the TLS failure", err)
		}
		if err := ping("http"); err != nil {
			t.Fatalf("http ping: %v", err)
		}
	}
	want := map[string]int{"https://127.0.0.1:5000/v2/": 1, "http://127.0.0.1:5000/v2/": 1}
	if fmt.Sprint(sent) != fmt.Sprint(want) {
		t.Errorf("sent %v, want %v", sent, want)
	}
}

// A request's kind is read from the end of its path: a repository's name
// may hold the API's words (8a47d5d had no kinds; the first version of
// count.go called every request under a/manifests/b a manifest request).
func TestRequestKind(t *testing.T) {
	for _, tc := range []struct{ method, url, want string }{
		{"GET", "https://r.example/v2/", "ping"},
		{"GET", "https://auth.example/token?scope=x", "token"},
		{"GET", "https://r.example/v2/a/manifests/b/manifests/latest", "manifest"},
		{"HEAD", "https://r.example/v2/a/manifests/b/blobs/sha256:abc", "blob"},
		{"POST", "https://r.example/v2/a/manifests/b/blobs/uploads/", "upload"},
		{"POST", "https://r.example/v2/a/blobs/uploads/?mount=sha256:abc&from=base", "mount"},
		{"PUT", "https://r.example/v2/a/blobs/uploads/1234?digest=sha256:abc", "upload"},
		{"GET", "https://r.example/v2/tags/list/tags/list", "tags"},
		{"GET", "https://r.example/v2/a/referrers/sha256:abc", "referrers"},
		{"GET", "https://r.example/v2/referrers/blobs/sha256:abc", "blob"},
	} {
		req, _ := http.NewRequest(tc.method, tc.url, nil)
		if got := requestKind(req); got != tc.want {
			t.Errorf("%s %s: %s, want %s", tc.method, tc.url, got, tc.want)
		}
	}
}
