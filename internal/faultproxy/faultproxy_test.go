package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestFaults(t *testing.T) {
	var got []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, r.Method+" "+string(b))
		io.WriteString(w, "hello from upstream")
	}))
	defer up.Close()
	p, err := New(up.URL, Config{Every503: 3, EveryCut: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	var outcomes []string
	for i := 1; i <= 12; i++ {
		method, body := http.MethodGet, ""
		if i == 2 || i == 4 || i == 7 || i == 10 {
			method, body = http.MethodPut, strings.Repeat("x", 1000)
		}
		req, _ := http.NewRequest(method, p.URL+"/v2/", strings.NewReader(body))
		resp, err := client.Do(req)
		if err != nil {
			outcomes = append(outcomes, "cut")
			continue
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case err != nil:
			outcomes = append(outcomes, "cut")
		case resp.StatusCode == http.StatusServiceUnavailable:
			outcomes = append(outcomes, "503")
		case string(b) == "hello from upstream":
			outcomes = append(outcomes, "ok")
		default:
			outcomes = append(outcomes, resp.Status+" "+string(b))
		}
	}
	// 3, 6, 9, 12: 503. Of the rest, every second PUT (2 4 7 10) and every
	// second GET (1 5 8 11) is cut, alternately before and after
	// forwarding: 4 mid-upload, 10 after the upstream answered; 5 before
	// forwarding, 11 after.
	want := "ok ok 503 cut cut 503 ok ok 503 cut cut 503"
	if s := strings.Join(outcomes, " "); s != want {
		t.Errorf("outcomes\n got %s\nwant %s", s, want)
	}
	st := p.Stats()
	if st.Requests != 12 || st.Unavailable != 4 || st.Cut != 4 || st.CutUploads != 1 || st.CutAnswers != 2 {
		t.Errorf("stats: %s", st)
	}
	// The PUT cut mid-upload never reached the registry; the others did.
	puts := 0
	for _, g := range got {
		if strings.HasPrefix(g, "PUT ") {
			puts++
		}
	}
	if puts != 3 {
		t.Errorf("upstream saw %d PUTs, want 3: %v", puts, got)
	}

	// Down: requests hang until the client gives up.
	p.SetDown(true)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/v2/", nil)
	start := time.Now()
	_, err = client.Do(req)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Errorf("down: %v after %s", err, time.Since(start))
	}
	if p.Stats().Hung != 1 {
		t.Errorf("stats: %s", p.Stats())
	}
}

func TestCorrupt(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Docker-Content-Digest", "sha256:abc")
		io.WriteString(w, `{"config":{"size":123}}`)
	}))
	defer up.Close()
	p, err := New(up.URL, Config{Corrupt: func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/bad") }})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for path, want := range map[string]string{"/v2/a/manifests/bad": `{"config":{"size":223}}`, "/v2/a/manifests/good": `{"config":{"size":123}}`} {
		resp, err := http.Get(p.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != want || resp.Header.Get("Docker-Content-Digest") != "sha256:abc" {
			t.Errorf("%s: %q %v, want %q and the header kept", path, b, resp.Header, want)
		}
	}
	if s := p.Stats(); s.Corrupted != 1 {
		t.Errorf("corrupted %d answers, want 1", s.Corrupted)
	}
}

// Redirect: a 307 to the other host, under CDNPrefix, nothing forwarded; a client that follows it gets the other proxy's (corrupted)
// answer, with the registry's header.
func TestRedirect(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Docker-Content-Digest", "sha256:abc")
		io.WriteString(w, `{"config":{"size":123}}`+r.URL.Path+"?"+r.URL.RawQuery)
	}))
	defer up.Close()
	cdn, err := New(up.URL, Config{Corrupt: func(*http.Request) bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	defer cdn.Close()
	_, port, _ := strings.Cut(cdn.Host, ":")
	p, err := New(up.URL, Config{Redirect: func(r *http.Request) string {
		if strings.HasSuffix(r.URL.Path, "/moved") {
			return "localhost:" + port
		}
		return ""
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(p.URL + "/v2/a/manifests/moved?x=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusTemporaryRedirect || loc != "http://localhost:"+port+"/_cdn/v2/a/manifests/moved?x=1" ||
		resp.Header.Get("Docker-Content-Digest") != "" {
		t.Errorf("%s, Location %q, header %q: want a 307 to the other host without a digest", resp.Status, loc, resp.Header.Get("Docker-Content-Digest"))
	}
	resp, err = http.Get(p.URL + "/v2/a/manifests/moved?x=1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `{"config":{"size":223}}/v2/a/manifests/moved?x=1`; string(b) != want || resp.Header.Get("Docker-Content-Digest") != "sha256:abc" {
		t.Errorf("followed: %q %v, want %q with the registry's header", b, resp.Header, want)
	}
	if s := p.Stats(); s.Redirected != 2 || s.Forwarded != 0 {
		t.Errorf("front: %d redirected, %d forwarded; want 2, 0", s.Redirected, s.Forwarded)
	}
	if s := cdn.Stats(); s.Corrupted != 1 {
		t.Errorf("cdn: %d corrupted, want 1", s.Corrupted)
	}
}

// Throttle: 429 (or 503) with Retry-After, in seconds or as an HTTP date,
// for the requests it matches, until its time is over.
func TestThrottle(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer up.Close()
	p, err := New(up.URL, Config{Throttle: &Throttle{RetryAfter: 6 * time.Second, For: 300 * time.Millisecond,
		Match: func(r *http.Request) bool { return r.Method == http.MethodGet }}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	get := func(method string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, p.URL+"/v2/a/manifests/v1", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	if code, ra := get(http.MethodGet); code != http.StatusTooManyRequests || ra != "6" {
		t.Errorf("GET: %d, Retry-After %q; want 429, 6", code, ra)
	}
	if code, _ := get(http.MethodHead); code != http.StatusOK {
		t.Errorf("HEAD (not matched): %d, want 200", code)
	}
	time.Sleep(350 * time.Millisecond)
	if code, _ := get(http.MethodGet); code != http.StatusOK {
		t.Errorf("GET after the throttle's time: %d, want 200", code)
	}
	p.Set(Config{Throttle: &Throttle{Status: http.StatusServiceUnavailable, RetryAfter: 2 * time.Second, HTTPDate: true}})
	code, ra := get(http.MethodGet)
	when, err := http.ParseTime(ra)
	if d := time.Until(when); code != http.StatusServiceUnavailable || err != nil || d < time.Second || d > 3*time.Second {
		t.Errorf("HTTP date: %d, Retry-After %q (%v from now); want 503 and a date about 2s ahead", code, ra, d)
	}
	if s := p.Stats(); s.Throttled != 2 {
		t.Errorf("throttled %d, want 2", s.Throttled)
	}
}

// Budget: manifest GETs are pulls, HEADs and blobs are not; past the
// window's pulls, 429 with Retry-After until the window ends; Docker Hub's
// headers on every manifest answer.
func TestBudget(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer up.Close()
	p, err := New(up.URL, Config{Budget: &Budget{Pulls: 2, Window: 1500 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var got []string
	do := func(method, path string) {
		req, _ := http.NewRequest(method, p.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got = append(got, fmt.Sprintf("%s %d %s %s %s", method, resp.StatusCode, resp.Header.Get("Ratelimit-Limit"), resp.Header.Get("Ratelimit-Remaining"), resp.Header.Get("Retry-After")))
	}
	do(http.MethodGet, "/v2/a/manifests/v1")
	do(http.MethodHead, "/v2/a/manifests/v1")
	do(http.MethodGet, "/v2/a/blobs/sha256:00")
	do(http.MethodGet, "/v2/a/manifests/v1")
	do(http.MethodGet, "/v2/a/manifests/v1")
	time.Sleep(1600 * time.Millisecond)
	do(http.MethodGet, "/v2/a/manifests/v1")
	want := []string{
		"GET 200 2;w=2 1;w=2 ",
		"HEAD 200 2;w=2 1;w=2 ",
		"GET 200   ", // a blob
		"GET 200 2;w=2 0;w=2 ",
		"GET 429 2;w=2 0;w=2 2",
		"GET 200 2;w=2 1;w=2 ", // a new window
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if s := p.Stats(); s.Pulls != 3 || s.OverBudget != 1 {
		t.Errorf("%d pulls, %d over budget; want 3, 1", s.Pulls, s.OverBudget)
	}
}
