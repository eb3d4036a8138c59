package rebase

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"
)

func TestObjectKeepsOrderAndBytes(t *testing.T) {
	in := `{"schemaVersion":2,"mediaType":"x","config":{"size":1,"digest":"a"},"annotations":{"z":"<&>","a":"1"},"x-unknown":[1,2.50,{"k":null}]}`
	o, err := parseObject([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	c, err := o.child("config")
	if err != nil {
		t.Fatal(err)
	}
	c.setRaw("digest", jsonString("b"))
	cb, _ := c.bytes()
	o.setRaw("config", cb)
	out, err := o.bytes()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"schemaVersion":2,"mediaType":"x","config":{"size":1,"digest":"b"},"annotations":{"z":"<&>","a":"1"},"x-unknown":[1,2.50,{"k":null}]}`
	if string(out) != want {
		t.Errorf("got  %s\nwant %s", out, want)
	}
	for _, bad := range []string{`{"a":1,"a":2}`, `[1]`, `{"a":1} {}`, `{"a":`} {
		if _, err := parseObject([]byte(bad)); err == nil {
			t.Errorf("parseObject(%s) accepted", bad)
		}
	}
}

func TestPlainHTTPOnlyForLoopback(t *testing.T) {
	for host, ok := range map[string]bool{
		"localhost": true, "127.0.0.1": true, "127.5.6.7": true, "::1": true, "[::1]": true, "registry.localhost": true,
		"10.0.0.1": false, "192.168.1.2": false, "registry.local": false, "example.com": false,
	} {
		if isLoopback(host) != ok {
			t.Errorf("isLoopback(%q) = %v", host, !ok)
		}
	}
	g := plainHTTPGuard{inner: http.DefaultTransport}
	req, _ := http.NewRequest(http.MethodGet, "http://10.0.0.1:5000/v2/", nil)
	if _, err := g.RoundTrip(req); !errors.Is(err, errPlainHTTP) || retryable(err) {
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

// A shared fetch abandoned because its owner's context was cancelled with a
// cause (another image's error) is retried by the waiters, not reported as
// their failure.
func TestMemoAbandonedOwner(t *testing.T) {
	var m memo[int]
	ownerCtx, cancel := context.WithCancelCause(context.Background())
	started := make(chan struct{})
	go func() {
		m.get(ownerCtx, "k", func(ctx context.Context) (int, error) {
			close(started)
			<-ctx.Done()
			return 0, fmt.Errorf("fetch: %w", context.Cause(ctx))
		})
	}()
	<-started
	res := make(chan error, 1)
	go func() {
		v, err := m.get(context.Background(), "k", func(context.Context) (int, error) { return 42, nil })
		if err == nil && v != 42 {
			err = fmt.Errorf("v = %d", v)
		}
		res <- err
	}()
	time.Sleep(10 * time.Millisecond) // let the waiter wait on the owner's entry
	cancel(errors.New("layers do not start with the old base"))
	if err := <-res; err != nil {
		t.Fatalf("waiter got the owner's error: %v", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
