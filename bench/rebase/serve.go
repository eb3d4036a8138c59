package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rebasekit/rebasekit/internal/distreg"
	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// serve starts Debian's docker-registry (CNCF distribution) on a free
// 127.0.0.1 port with its storage under -dir, and a reverse proxy in front of
// it on another free 127.0.0.1 port. It writes "PROXY REGISTRY" (host:port
// each) to -addr-file once both answer, and runs until SIGTERM or SIGINT,
// then stops the registry. The registry also dies with this process
// (Pdeathsig), so a killed benchmark leaves nothing running.
//
// With -registry ggcr it serves go-containerregistry's in-memory registry
// instead, in this process (rebasetest.NewRegistry: cross-repository mounts
// as distribution makes them), behind the same proxy: a registry that takes
// the distribution spec's single-request upload, which docker-registry 2.8
// does not. It holds everything in memory; -dir is not used.
func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	dir := fs.String("dir", "", "directory for the registry's config, storage and log")
	latency := fs.Duration("latency", 20*time.Millisecond, "added to every proxied request")
	logPath := fs.String("log", "", "request log (one line a request, plus #mark lines)")
	addrFile := fs.String("addr-file", "", "where to write \"PROXY REGISTRY\" once ready")
	impl := fs.String("registry", "distribution", "the registry: distribution (Debian's docker-registry) or ggcr (go-containerregistry's in-memory registry)")
	fs.Parse(args)
	if *dir == "" || *logPath == "" || *addrFile == "" {
		return errors.New("-dir, -log and -addr-file are required")
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	var (
		host string
		done <-chan struct{}
		tail func() string
	)
	switch *impl {
	case "distribution":
		reg, err := distreg.Start(ctx, *dir, distreg.Options{LogLevel: "warn"})
		if err != nil {
			return err
		}
		defer reg.Stop()
		host, done, tail = reg.Host, reg.Done(), reg.LogTail
	case "ggcr":
		reg := rebasetest.NewRegistry()
		defer reg.Close()
		host, tail = reg.Host, func() string { return "" }
	default:
		return fmt.Errorf("-registry %q: want distribution or ggcr", *impl)
	}

	logFile, err := os.OpenFile(*logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	p := newProxy(host, *latency, logFile)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: p}
	go srv.Serve(l)
	defer srv.Close()

	tmp := *addrFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(l.Addr().String()+" "+host+"\n"), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, *addrFile); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return nil
	case <-done: // never, for ggcr
		return fmt.Errorf("docker-registry exited:\n%s", tail())
	}
}

// proxy forwards every request to the registry after sleeping latency, and
// logs it once answered: "kind<TAB>status<TAB>method<TAB>path?query<TAB>user-agent<TAB>body bytes sent".
// GET /_bench/mark?label=L is not forwarded: it waits until no request is in
// flight, then writes "#mark<TAB>L<TAB>DEPTH", so the lines between two marks
// are exactly the requests of what ran between them, and DEPTH is the number
// of round trips on their critical path: a request starts at the depth of
// the deepest answer sent before it arrived, and its answer is one deeper
// (with a latency far above the client's own work between requests, the
// round trips it waited for). GET /_bench/latency?d=DURATION sets the
// latency from then on.
type proxy struct {
	rp       *httputil.ReverseProxy
	latency  atomic.Int64 // time.Duration
	inflight atomic.Int64

	mu    sync.Mutex
	log   *os.File
	depth int // the deepest answer since the last mark
}

func newProxy(target string, latency time.Duration, log *os.File) *proxy {
	u := &url.URL{Scheme: "http", Host: target}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			// Keep the client's Host: the registry builds upload Locations
			// from it, and they must point back at the proxy.
			r.Out.Host = r.In.Host
		},
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     time.Minute,
		},
	}
	p := &proxy{rp: rp, log: log}
	p.latency.Store(int64(latency))
	return p
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/_bench/mark" {
		p.mark(w, r)
		return
	}
	if r.URL.Path == "/_bench/latency" {
		d, err := time.ParseDuration(r.URL.Query().Get("d"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		p.latency.Store(int64(d))
		return
	}
	p.inflight.Add(1)
	defer p.inflight.Add(-1)
	p.mu.Lock()
	depth := p.depth + 1
	p.mu.Unlock()
	time.Sleep(time.Duration(p.latency.Load()))
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	p.rp.ServeHTTP(rec, r)
	p.mu.Lock()
	p.depth = max(p.depth, depth)
	p.mu.Unlock()
	p.write(fmt.Sprintf("%s\t%d\t%s\t%s\t%s\t%d\n", classify(r.Method, r.URL, rec.status), rec.status,
		r.Method, r.URL.RequestURI(), r.UserAgent(), rec.n))
}

func (p *proxy) mark(w http.ResponseWriter, r *http.Request) {
	deadline := time.Now().Add(10 * time.Second)
	for p.inflight.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	label := strings.Map(func(c rune) rune {
		if c == '\t' || c == '\n' {
			return ' '
		}
		return c
	}, r.URL.Query().Get("label"))
	p.mu.Lock()
	depth := p.depth
	p.depth = 0
	p.mu.Unlock()
	p.write(fmt.Sprintf("#mark\t%s\t%d\n", label, depth))
}

func (p *proxy) write(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.log.WriteString(line)
}

// statusRecorder remembers the status the registry answered.
type statusRecorder struct {
	http.ResponseWriter
	status int
	n      int64 // body bytes written
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	n, err := s.ResponseWriter.Write(b)
	s.n += int64(n)
	return n, err
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets the reverse proxy flush through the recorder.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// classify names the registry API operation of a request, in the terms of the
// distribution spec.
func classify(method string, u *url.URL, status int) string {
	path := u.Path
	switch {
	case path == "/v2/" || path == "/v2":
		return "ping"
	case strings.Contains(path, "/manifests/"):
		ref := path[strings.LastIndex(path, "/")+1:]
		if isSigTag(ref) {
			// cosign's signature of an image: what --verify-base-key and
			// --verify-image-key look up, counted apart from other tags.
			return "manifest " + method + " by .sig tag"
		}
		by := "tag"
		if strings.Contains(ref, ":") {
			by = "digest"
		}
		return "manifest " + method + " by " + by
	case strings.Contains(path, "/blobs/uploads"):
		switch {
		case method == http.MethodPost && u.Query().Get("mount") != "":
			if status == http.StatusCreated {
				return "blob mount"
			}
			return "blob mount (not mounted)"
		case method == http.MethodPost && status == http.StatusCreated && u.Query().Get("digest") != "":
			return "upload POST (single request)"
		case method == http.MethodPost:
			return "upload POST"
		default:
			return "upload " + method
		}
	case strings.Contains(path, "/blobs/"):
		return "blob " + method
	case strings.Contains(path, "/referrers/"):
		return "referrers " + method
	case strings.HasSuffix(path, "/tags/list"):
		return "tags list"
	}
	return "other " + method
}

// isSigTag reports whether ref is cosign's signature tag of a digest,
// sha256-<64 hex>.sig.
func isSigTag(ref string) bool {
	hex, ok := strings.CutPrefix(ref, "sha256-")
	if !ok {
		return false
	}
	hex, ok = strings.CutSuffix(hex, ".sig")
	if !ok || len(hex) != 64 {
		return false
	}
	return strings.Trim(hex, "0123456789abcdef") == ""
}
