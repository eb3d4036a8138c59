// Package faultproxy is an HTTP proxy for tests that makes a healthy registry
// flaky: put it in front of one and point the client at the proxy. It answers
// every Nth request with 503, cuts every Mth request's connection (in the
// middle of an upload, or after forwarding it so that the answer is lost or
// arrives half-written), closes every Kth connection as soon as it is
// accepted, adds latency, and can stop answering altogether (it accepts and
// hangs, like a registry that is down behind a load balancer). It answers
// 429 or 503 with Retry-After for a while (Throttle), and spends a Docker
// Hub-style pull budget (Budget). It counts what
// it did, so a test can say which faults a client survived.
//
// Requests are counted in arrival order, so with concurrent clients which
// request gets a fault depends on timing, but how many do does not.
package faultproxy

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config says which faults to inject. Zero values inject nothing.
type Config struct {
	// Every503: every Nth request is answered 503 Service Unavailable
	// without being forwarded.
	Every503 int
	// EveryCut: of the requests not answered 503, every Mth one with a body
	// and every Mth one without (counted apart, so that uploads get their
	// share of cuts however many reads come between them) has its
	// connection cut. Cuts of each kind alternate between before
	// forwarding (for a request with a body, after reading part of it: a
	// cut mid-upload) and after forwarding (the registry did the work, the
	// client gets half an answer or none).
	EveryCut int
	// EveryConnCut: every Kth TCP connection is closed as soon as it is
	// accepted, before a byte is read.
	EveryConnCut int
	// Latency is added before every request is forwarded.
	Latency time.Duration
	// Answer, when set and returning a non-zero status, answers the request
	// with that status (and a registry-style error body) instead of
	// forwarding it: for 401/403/404 tests.
	Answer func(*http.Request) int
	// Corrupt, when set and true for a request, changes one byte of the
	// registry's answer body (the first digit after the first "size":, else
	// the last byte) and passes the headers on as they were, its
	// Docker-Content-Digest included: a proxy or cache that mangles what
	// it serves.
	Corrupt func(*http.Request) bool
	// NoDigest, when set and true for a request, drops the
	// Docker-Content-Digest header from the registry's answer: a CDN that
	// serves the bytes without the registry's headers.
	NoDigest func(*http.Request) bool
	// Redirect, when set and returning a host (host:port), answers the
	// request with 307 Temporary Redirect to that host, in plain HTTP,
	// without forwarding it and without a Docker-Content-Digest, at a path
	// that is not a registry API path: CDNPrefix and the request's path and
	// query. registry.k8s.io sends every API request to another host like
	// that, and CDNs answer at paths of their own. Point it at a second
	// Proxy in front of the same registry (by another name for the loopback
	// address, such as localhost:PORT: clients treat a redirect to another
	// loopback IP as an attack), which forwards what it gets under
	// CDNPrefix as the path it was redirected from, with Corrupt set on
	// that one for a CDN that mangles what it serves.
	Redirect func(*http.Request) string
	// Throttle, when set, answers the requests it matches with its Status
	// and a Retry-After header instead of forwarding them, for a while:
	// a registry that asks its clients to come back later.
	Throttle *Throttle
	// Budget, when set, emulates Docker Hub's pull limit (see Budget).
	Budget *Budget
}

// Throttle is a registry answering 429 Too Many Requests (or 503) with
// Retry-After.
type Throttle struct {
	Status     int           // 429 or 503 (0: 429)
	RetryAfter time.Duration // the header's value, in whole seconds
	HTTPDate   bool          // say it as an HTTP date (now + RetryAfter) instead of seconds
	// For is how long the throttle lasts from the first request it
	// answers; 0: as long as it is set.
	For time.Duration
	// Match picks the requests throttled; nil: every one.
	Match func(*http.Request) bool
}

// Budget emulates Docker Hub's pull limit: every manifest GET is a pull
// (a HEAD is not), and Pulls of them are allowed per Window. A window
// starts at the first pull after the previous one ended (a fixed window,
// as a client that waits for it sees one). Once the window's pulls are
// spent, a manifest GET is answered 429 TOOMANYREQUESTS with Retry-After
// (the whole seconds until the window ends, at least 1) and is not
// forwarded. Every manifest answer, GET or HEAD, 200 or 429, carries
// Docker Hub's headers: ratelimit-limit: N;w=S and ratelimit-remaining:
// R;w=S (S the window in whole seconds).
type Budget struct {
	Pulls  int
	Window time.Duration
}

// CDNPrefix starts the paths Config.Redirect sends requests to; every Proxy
// forwards a request under it as the path that follows.
const CDNPrefix = "/_cdn"

// Stats counts what the proxy saw and did.
type Stats struct {
	Requests    int64 // requests read
	Forwarded   int64 // requests passed to the registry (including those whose answer was cut)
	Unavailable int64 // answered 503
	Cut         int64 // requests whose connection was cut (all kinds)
	CutUploads  int64 // of which: cut after reading part of a request body
	CutAnswers  int64 // of which: forwarded, then the answer cut or lost
	ConnsCut    int64 // connections closed at accept
	Answered    int64 // answered by Config.Answer
	Corrupted   int64 // answers changed by Config.Corrupt
	Redirected  int64 // answered 307 by Config.Redirect
	Hung        int64 // requests that got no answer because the proxy was down
	Throttled   int64 // answered by Config.Throttle
	Pulls       int64 // manifest GETs counted against Config.Budget (forwarded)
	OverBudget  int64 // manifest GETs answered 429 by Config.Budget
	PeakFlight  int64 // the most requests the proxy held at once
	BytesSent   int64 // bytes of the registry's answer bodies passed on whole
}

func (s Stats) String() string {
	return fmt.Sprintf("%d requests: %d forwarded, %d answered 503, %d cut (%d mid-upload, %d after forwarding), %d connections closed at accept, %d hung, %d throttled, %d pulls, %d over budget, at most %d at once",
		s.Requests, s.Forwarded, s.Unavailable, s.Cut, s.CutUploads, s.CutAnswers, s.ConnsCut, s.Hung, s.Throttled, s.Pulls, s.OverBudget, s.PeakFlight)
}

// Proxy is a running fault-injecting proxy on 127.0.0.1.
type Proxy struct {
	// URL is http://127.0.0.1:PORT; Host is 127.0.0.1:PORT.
	URL, Host string

	upstream *url.URL
	client   *http.Client
	srv      *httptest.Server
	quit     chan struct{}
	once     sync.Once

	mu   sync.Mutex
	cfg  Config
	down bool

	n, nBody, nBare, conns, cutsBody, cutsBare                    atomic.Int64
	requests, forwarded, unavailable, cut, cutUploads, cutAnswers atomic.Int64
	connsCut, answered, hung, corrupted, sent, redirected         atomic.Int64
	throttled, pulls, overBudget, flight, peakFlight              atomic.Int64

	limitMu      sync.Mutex
	throttleFrom time.Time // the first request Config.Throttle answered
	windowEnd    time.Time // of Config.Budget's current window
	windowPulls  int       // pulls in it

	trailMu sync.Mutex
	trail   []Entry
}

// Entry is one request the registry answered through the proxy, whole.
type Entry struct {
	Method, Path string
	Status       int
	Bytes        int64 // of the answer's body
}

// Trail returns the requests answered whole since the last ResetStats, in
// the order they were answered.
func (p *Proxy) Trail() []Entry {
	p.trailMu.Lock()
	defer p.trailMu.Unlock()
	return append([]Entry(nil), p.trail...)
}

// New starts a proxy in front of upstream (a URL such as
// http://127.0.0.1:5000, or a host:port). The Host header is passed through,
// so a registry that writes absolute upload locations points them at the
// proxy.
func New(upstream string, cfg Config) (*Proxy, error) {
	u, err := url.Parse(upstream)
	if err != nil || u.Host == "" {
		u, err = url.Parse("http://" + upstream)
		if err != nil {
			return nil, fmt.Errorf("faultproxy: upstream %q: %w", upstream, err)
		}
	}
	p := &Proxy{
		upstream: u,
		cfg:      cfg,
		quit:     make(chan struct{}),
		client: &http.Client{
			Transport:     &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64, DisableCompression: true},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(p.serve))
	p.srv.Listener = &listener{Listener: p.srv.Listener, p: p}
	p.srv.Start()
	p.URL = p.srv.URL
	p.Host = p.srv.Listener.Addr().String()
	return p, nil
}

// Set replaces the fault configuration. A throttle's time and a budget's
// window start again.
func (p *Proxy) Set(cfg Config) {
	p.mu.Lock()
	p.cfg = cfg
	p.mu.Unlock()
	p.limitMu.Lock()
	p.throttleFrom, p.windowEnd, p.windowPulls = time.Time{}, time.Time{}, 0
	p.limitMu.Unlock()
}

// SetDown makes the proxy stop answering (down) or answer again. While down it
// accepts connections and reads requests but never answers them; the
// requests hang until the client gives up or the proxy is closed.
func (p *Proxy) SetDown(down bool) {
	p.mu.Lock()
	p.down = down
	p.mu.Unlock()
}

// Stats returns the counters so far.
func (p *Proxy) Stats() Stats {
	return Stats{
		Requests: p.requests.Load(), Forwarded: p.forwarded.Load(), Unavailable: p.unavailable.Load(),
		Cut: p.cut.Load(), CutUploads: p.cutUploads.Load(), CutAnswers: p.cutAnswers.Load(),
		ConnsCut: p.connsCut.Load(), Answered: p.answered.Load(), Hung: p.hung.Load(), Corrupted: p.corrupted.Load(),
		BytesSent: p.sent.Load(), Redirected: p.redirected.Load(),
		Throttled: p.throttled.Load(), Pulls: p.pulls.Load(), OverBudget: p.overBudget.Load(), PeakFlight: p.peakFlight.Load(),
	}
}

// ResetStats zeroes the counters (not the fault schedule).
func (p *Proxy) ResetStats() {
	for _, c := range []*atomic.Int64{&p.requests, &p.forwarded, &p.unavailable, &p.cut, &p.cutUploads, &p.cutAnswers, &p.connsCut, &p.answered, &p.hung, &p.corrupted, &p.sent, &p.redirected, &p.throttled, &p.pulls, &p.overBudget, &p.peakFlight} {
		c.Store(0)
	}
	p.trailMu.Lock()
	p.trail = nil
	p.trailMu.Unlock()
}

// Close releases hanging requests and stops the proxy.
func (p *Proxy) Close() {
	p.once.Do(func() { close(p.quit) })
	p.srv.CloseClientConnections()
	p.srv.Close()
	p.client.CloseIdleConnections()
}

// listener closes every EveryConnCut-th accepted connection at once.
type listener struct {
	net.Listener
	p *Proxy
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.p.mu.Lock()
		k := l.p.cfg.EveryConnCut
		l.p.mu.Unlock()
		if k > 0 && l.p.conns.Add(1)%int64(k) == 0 {
			l.p.connsCut.Add(1)
			c.Close()
			continue
		}
		return c, nil
	}
}

func (p *Proxy) serve(w http.ResponseWriter, req *http.Request) {
	p.requests.Add(1)
	for n, peak := p.flight.Add(1), p.peakFlight.Load(); n > peak && !p.peakFlight.CompareAndSwap(peak, n); peak = p.peakFlight.Load() {
	}
	defer p.flight.Add(-1)
	p.mu.Lock()
	cfg, down := p.cfg, p.down
	p.mu.Unlock()

	if down {
		p.hung.Add(1)
		select {
		case <-req.Context().Done():
		case <-p.quit:
		}
		hijackClose(w)
		return
	}
	if cfg.Latency > 0 {
		select {
		case <-time.After(cfg.Latency):
		case <-req.Context().Done():
			return
		case <-p.quit:
			return
		}
	}
	if p.answerItself(w, req, cfg) || p.cutThis(w, req, cfg) {
		return
	}
	resp, body, err := p.forward(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	e := Entry{Method: req.Method, Path: req.URL.Path, Status: resp.StatusCode}
	defer func() {
		p.trailMu.Lock()
		p.trail = append(p.trail, e)
		p.trailMu.Unlock()
	}()
	if req.Method == http.MethodHead {
		if resp.ContentLength >= 0 {
			w.Header().Set("Content-Length", fmt.Sprint(resp.ContentLength))
		}
		w.WriteHeader(resp.StatusCode)
		return
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(resp.StatusCode)
	n, _ := w.Write(body)
	e.Bytes = int64(n)
	p.sent.Add(int64(n))
}

// answerItself answers req without forwarding it when cfg says so (an
// answer, a redirect, a throttle, a spent budget, a 503), and says whether
// it did.
func (p *Proxy) answerItself(w http.ResponseWriter, req *http.Request, cfg Config) bool {
	if cfg.Answer != nil {
		if code := cfg.Answer(req); code != 0 {
			p.answered.Add(1)
			registryError(w, code)
			return true
		}
	}
	if cfg.Redirect != nil {
		if to := cfg.Redirect(req); to != "" {
			p.redirected.Add(1)
			w.Header().Set("Location", "http://"+to+CDNPrefix+req.URL.RequestURI())
			w.WriteHeader(http.StatusTemporaryRedirect)
			return true
		}
	}
	if cfg.Throttle != nil && p.throttle(w, req, cfg.Throttle) {
		return true
	}
	if cfg.Budget != nil && p.spend(w, req, cfg.Budget) {
		return true
	}
	if n := p.n.Add(1); cfg.Every503 > 0 && n%int64(cfg.Every503) == 0 {
		p.unavailable.Add(1)
		registryError(w, http.StatusServiceUnavailable)
		return true
	}
	return false
}

// throttle answers req with t's status and Retry-After when t matches it
// and its time is not over, and says whether it did.
func (p *Proxy) throttle(w http.ResponseWriter, req *http.Request, t *Throttle) bool {
	if t.Match != nil && !t.Match(req) {
		return false
	}
	now := time.Now()
	p.limitMu.Lock()
	if p.throttleFrom.IsZero() {
		p.throttleFrom = now
	}
	over := t.For > 0 && now.Sub(p.throttleFrom) >= t.For
	p.limitMu.Unlock()
	if over {
		return false
	}
	p.throttled.Add(1)
	code := t.Status
	if code == 0 {
		code = http.StatusTooManyRequests
	}
	if t.HTTPDate {
		// An HTTP date has whole seconds: round up, so that a client that
		// waits as asked never comes back early.
		w.Header().Set("Retry-After", now.Add(t.RetryAfter+time.Second-1).UTC().Format(http.TimeFormat))
	} else {
		w.Header().Set("Retry-After", fmt.Sprint(int64(t.RetryAfter/time.Second)))
	}
	registryError(w, code)
	return true
}

// spend counts a manifest GET against b, answers it 429 when the
// window's pulls are spent (and says so), and puts Docker Hub's headers on
// every manifest answer.
func (p *Proxy) spend(w http.ResponseWriter, req *http.Request, b *Budget) bool {
	if !strings.Contains(req.URL.Path, "/manifests/") || (req.Method != http.MethodGet && req.Method != http.MethodHead) {
		return false
	}
	now := time.Now()
	p.limitMu.Lock()
	if !now.Before(p.windowEnd) {
		p.windowEnd, p.windowPulls = time.Time{}, 0
	}
	over := false
	if req.Method == http.MethodGet {
		if p.windowEnd.IsZero() {
			p.windowEnd = now.Add(b.Window)
		}
		if over = p.windowPulls >= b.Pulls; !over {
			p.windowPulls++
		}
	}
	left, end := b.Pulls-p.windowPulls, p.windowEnd
	p.limitMu.Unlock()
	secs := int64((b.Window + time.Second - 1) / time.Second)
	w.Header().Set("Ratelimit-Limit", fmt.Sprintf("%d;w=%d", b.Pulls, secs))
	w.Header().Set("Ratelimit-Remaining", fmt.Sprintf("%d;w=%d", left, secs))
	if !over {
		if req.Method == http.MethodGet {
			p.pulls.Add(1)
		}
		return false
	}
	p.overBudget.Add(1)
	wait := (end.Sub(now) + time.Second - 1) / time.Second
	w.Header().Set("Retry-After", fmt.Sprint(max(int64(wait), 1)))
	registryError(w, http.StatusTooManyRequests)
	return true
}

// cutThis cuts req's connection when its turn has come (Config.EveryCut),
// alternately before forwarding it (mid-upload, for a request with a body)
// and after (the answer cut or lost), and says whether it did.
func (p *Proxy) cutThis(w http.ResponseWriter, req *http.Request, cfg Config) bool {
	hasBody := req.ContentLength != 0 && req.Body != nil
	seen, cuts := &p.nBare, &p.cutsBare
	if hasBody {
		seen, cuts = &p.nBody, &p.cutsBody
	}
	if cfg.EveryCut <= 0 || seen.Add(1)%int64(cfg.EveryCut) != 0 {
		return false
	}
	p.cut.Add(1)
	// Alternate between a cut before forwarding and one after.
	if cuts.Add(1)%2 == 1 {
		// Before forwarding: the registry never sees it.
		if hasBody {
			p.cutUploads.Add(1)
			part := req.ContentLength / 2
			if part <= 0 {
				part = 1
			}
			io.CopyN(io.Discard, req.Body, part)
		}
		hijackClose(w)
		return true
	}
	// After forwarding: the work is done, the answer is lost or cut.
	resp, body, err := p.forward(req)
	if err != nil {
		hijackClose(w)
		return true
	}
	p.cutAnswers.Add(1)
	cutAnswer(w, resp, body)
	return true
}

// forward sends req to the registry and reads the whole answer.
func (p *Proxy) forward(req *http.Request) (*http.Response, []byte, error) {
	p.forwarded.Add(1)
	u := *req.URL
	u.Scheme, u.Host = p.upstream.Scheme, p.upstream.Host
	if rest, ok := strings.CutPrefix(u.Path, CDNPrefix+"/"); ok {
		u.Path, u.RawPath = "/"+rest, ""
	}
	out, err := http.NewRequestWithContext(req.Context(), req.Method, u.String(), req.Body)
	if err != nil {
		return nil, nil, err
	}
	out.Host = req.Host
	out.ContentLength = req.ContentLength
	for k, vs := range req.Header {
		switch http.CanonicalHeaderKey(k) {
		case "Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
			continue
		}
		out.Header[k] = vs
	}
	resp, err := p.client.Do(out)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	resp.Header.Del("Content-Length")
	resp.Header.Del("Transfer-Encoding")
	resp.Header.Del("Connection")
	p.mu.Lock()
	corrupt, noDigest := p.cfg.Corrupt, p.cfg.NoDigest
	p.mu.Unlock()
	if noDigest != nil && noDigest(req) {
		resp.Header.Del("Docker-Content-Digest")
	}
	if corrupt != nil && len(body) > 0 && corrupt(req) {
		p.corrupted.Add(1)
		i := bytes.Index(body, []byte(`"size":`)) + len(`"size":`)
		if i < len(`"size":`) || i >= len(body) || body[i] < '0' || body[i] > '8' {
			i = len(body) - 1
		}
		body[i]++
	}
	return resp, body, nil
}

// cutAnswer writes the status line, the headers and half the body, then
// closes the connection; with no body to cut, it closes without answering.
func cutAnswer(w http.ResponseWriter, resp *http.Response, body []byte) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return
	}
	conn, bw, err := hj.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	if len(body) < 2 {
		return // the answer is lost
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", resp.StatusCode, http.StatusText(resp.StatusCode))
	resp.Header.Set("Content-Length", fmt.Sprint(len(body)))
	resp.Header.Write(&b)
	b.WriteString("\r\n")
	b.Write(body[:len(body)/2])
	bw.Write(b.Bytes())
	bw.Flush()
}

// hijackClose closes the request's connection without answering.
func hijackClose(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
		}
	}
}

// registryError answers code with a distribution-style error body.
func registryError(w http.ResponseWriter, code int) {
	ec := map[int]string{
		http.StatusUnauthorized:       "UNAUTHORIZED",
		http.StatusForbidden:          "DENIED",
		http.StatusNotFound:           "NAME_UNKNOWN",
		http.StatusServiceUnavailable: "UNAVAILABLE",
		http.StatusTooManyRequests:    "TOOMANYREQUESTS",
	}[code]
	if ec == "" {
		ec = "UNKNOWN"
	}
	w.Header().Set("Content-Type", "application/json")
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="faultproxy"`)
	}
	w.WriteHeader(code)
	fmt.Fprintf(w, `{"errors":[{"code":%q,"message":%q}]}`+"\n", ec, faultMessage(code))
}

func faultMessage(code int) string {
	switch code {
	case http.StatusUnauthorized:
		return "authentication required"
	case http.StatusForbidden:
		return "requested access to the resource is denied"
	case http.StatusServiceUnavailable:
		return "service unavailable (injected by faultproxy)"
	case http.StatusTooManyRequests:
		return "You have reached your pull rate limit (injected by faultproxy)"
	}
	return http.StatusText(code)
}
