package registry

import (
	"context"
	"log"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/rebasekit/rebasekit/internal/cache"
	"github.com/rebasekit/rebasekit/internal/retry"
	"github.com/rebasekit/rebasekit/pkg/store"
)

// Options configure a Client. The engine's options map onto them one to
// one; the zero value of each field but Transport and Keychain means the
// default.
type Options struct {
	Keychain    authn.Keychain
	Transport   http.RoundTripper // the caller's, under the client's own
	Insecure    bool              // plain HTTP to any registry, not only loopback
	MaxRequests int               // in flight per registry host; 0 or less: no bound
	UserAgent   string
	Jobs        int             // go-containerregistry's remote.WithJobs
	Backoff     *remote.Backoff // nil or no steps: retry.DefaultBackoff
	// RemoteOptions come first, so that the client's own settings win over
	// them (see remoteOptions).
	RemoteOptions []remote.Option
	Logger        *log.Logger // told of retries, streams and refusals, and of every wait
	// MaxRetryWait is the longest wait a registry may ask for (Retry-After,
	// or its pull budget's window) before the operation fails instead;
	// 0: retry.DefaultMaxWait.
	MaxRetryWait time.Duration
	// Notices are told, once a run, of what a person should know of the
	// registries' limits: the first wait each asks for, a pull budget that
	// cannot cover the run.
	Notices *log.Logger
	// Backlog, when set, says how far the run is through its input: what
	// tells how many pulls it still needs, for the notice of a pull budget
	// that cannot cover them (ratelimit.go).
	Backlog func() Backlog
}

// Backlog is how far a run is through its input, as its caller knows it.
type Backlog struct {
	Started int // lines (images) whose work has begun
	Done    int // of which: done
	Lines   int // in all; -1 while not known (an input still open)
}

// Client is the registry client of one run: one transport (plain HTTP
// refused beyond loopback, one ping per registry, manifests checked against
// their digest, at most MaxRequests in flight per registry), one puller for
// the reads, and one authenticated writer per repository (and mount
// source). It is both where the engine reads images (a Source) and where it
// writes them (a Destination). It is safe for concurrent use.
type Client struct {
	o      Options
	limits *rateLimit // the transport's top: Retry-After, in-flight limits, pull budgets
	puller *remote.Puller
	rt     http.RoundTripper // the shared transport of the writers
	counts *counter          // the requests sent, by host (count.go)
	// registries that answered the single-request upload with an upload
	// session (202): host -> true (PutBlob)
	noMonolithic sync.Map

	writers cache.Memo[*writer] // repo (and mount source) -> authenticated writer
	// registry|layer digest -> the repository on that registry a layer of a
	// base on another registry was streamed into (crossreg.go)
	homes cache.Memo[name.Repository]
}

// New returns the client o describes.
func New(o Options) (*Client, error) {
	if o.Logger == nil {
		o.Logger = log.New(discard{}, "", 0)
	}
	if o.Notices == nil {
		o.Notices = log.New(discard{}, "", 0)
	}
	if o.MaxRetryWait <= 0 {
		o.MaxRetryWait = retry.DefaultMaxWait
	}
	if o.Transport == nil {
		o.Transport = remote.DefaultTransport
	}
	// One transport under the puller and the writers: plain HTTP refused
	// beyond loopback, one ping per registry, manifests by tag checked
	// against their digest, at most MaxRequests in flight per registry; on
	// top, the registries' own limits (ratelimit.go). Under it, right above
	// the caller's transport, the request counts: what each host was sent.
	c := &Client{o: o, counts: newCounter(o.Transport)}
	c.limits = newRateLimit(NewTransport(c.counts, o.MaxRequests, o.Insecure), o.MaxRequests, o.MaxRetryWait, o.Logger, o.Notices, o.Backlog)
	shared := http.RoundTripper(c.limits)
	var err error
	if c.puller, err = remote.NewPuller(remoteOptions(&c.o, shared)...); err != nil {
		return nil, err
	}
	c.rt = transport.NewUserAgent(shared, o.UserAgent)
	return c, nil
}

// remoteOptions are those of the run's single puller: one transport (rt,
// shared with the writers), one keychain. go-containerregistry's own retries are off: they retry only the
// request, not the reading of its body, and sleep without looking at the
// context. The engine retries whole reads and uploads itself (Client.retry),
// so one policy bounds every operation.
//
// The caller's remote options come first, so that the engine's own settings
// win: a remote.WithTransport of theirs must not bypass the plain-HTTP guard
// and the digest check, nor a retry predicate nest retries inside the
// engine's.
func remoteOptions(o *Options, rt http.RoundTripper) []remote.Option {
	return append(slices.Clip(o.RemoteOptions),
		remote.WithAuthFromKeychain(o.Keychain),
		remote.WithTransport(rt),
		remote.WithUserAgent(o.UserAgent),
		remote.WithJobs(o.Jobs),
		remote.WithRetryPredicate(func(error) bool { return false }),
		remote.WithRetryStatusCodes(),
	)
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// retry runs f under the run's retry policy (retry.Policy): the backoff,
// and the waits the registries ask for, as the transport saw them asked.
func (c *Client) retry(ctx context.Context, f func() error) error {
	b := retry.DefaultBackoff
	if c.o.Backoff != nil && c.o.Backoff.Steps > 0 {
		b = *c.o.Backoff
	}
	return retry.Policy{Backoff: b, MaxWait: c.o.MaxRetryWait, Asked: asked, Waiting: c.limits.waiting, Logf: c.o.Logger.Printf}.Do(ctx, f)
}

var (
	_ store.Source      = (*Client)(nil)
	_ store.Destination = (*Client)(nil)
	_ store.Repository  = (*writer)(nil)
)
