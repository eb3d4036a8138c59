package rebase

import (
	"errors"
	"fmt"
	"io"
	"log"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/rebasekit/rebasekit/pkg/registry"
	"github.com/rebasekit/rebasekit/pkg/store"
)

// Option configures a Rebaser.
type Option func(*options)

type options struct {
	jobs        int
	maxRequests int
	dryRun      bool
	strict      bool
	tag         bool
	insecure    bool
	referrers   bool
	keepConfig  bool
	oldBase     string
	newBase     string
	timeout     time.Duration
	keychain    authn.Keychain
	transport   registry.RoundTripper
	backoff     *remote.Backoff
	maxWait     time.Duration  // WithMaxRetryWait
	notices     *log.Logger    // WithNotices
	backlog     func() Backlog // WithBacklog
	userAgent   string
	logger      *log.Logger
	remoteOpts  []remote.Option
	stop        <-chan struct{}
	signer      Signer
	// WithBaseVerifier, WithImageVerifier (trust.go)
	baseVerifier, imageVerifier Verifier
	src                         store.Source      // WithSource
	dst                         store.Destination // WithDestination
}

// validate checks what the options say together, once, in New.
func (o *options) validate() error {
	switch {
	case (o.oldBase == "") != (o.newBase == ""):
		return errors.New("give both the old base and the new base, or neither")
	case o.jobs < 1:
		return fmt.Errorf("jobs must be at least 1, not %d", o.jobs)
	case o.timeout < 0:
		return fmt.Errorf("the timeout must not be negative (0 means no limit), not %s", o.timeout)
	case o.maxWait < 0:
		return fmt.Errorf("the longest retry wait must not be negative, not %s", o.maxWait)
	}
	return nil
}

func defaults() options {
	return options{
		jobs:        8,
		maxRequests: DefaultMaxRequests,
		referrers:   true,
		keychain:    authn.DefaultKeychain,
		transport:   remote.DefaultTransport,
		logger:      log.New(io.Discard, "", 0),
		notices:     log.New(io.Discard, "", 0),
		maxWait:     DefaultMaxRetryWait,
		userAgent:   "rebasekit/crane-rebase-stream",
	}
}

// WithJobs sets how many images Stream works on at once (default 8), and how
// many platforms of one index are worked on at once.
func WithJobs(n int) Option { return func(o *options) { o.jobs = n } }

// DefaultMaxRequests is how many requests a run has in flight to one
// registry host at most, unless WithMaxRequests says otherwise.
const DefaultMaxRequests = 16

// WithMaxRequests bounds the requests in flight to each registry host, for
// the whole run (default DefaultMaxRequests; 0 or less: no bound). Whatever
// --jobs says, a registry never sees more than n requests at once from one
// run, so a fleet run does not turn into 429s or run out of file
// descriptors.
func WithMaxRequests(n int) Option { return func(o *options) { o.maxRequests = n } }

// WithDryRun computes every digest but pushes nothing. The digests are the
// ones a real run would push: rebasing is deterministic.
func WithDryRun(on bool) Option { return func(o *options) { o.dryRun = on } }

// WithStrict turns skips (no base annotations, a base pinned by digest) into
// failures.
func WithStrict(on bool) Option { return func(o *options) { o.strict = on } }

// WithTag also moves the input's tag to the rebased image (off by default:
// the engine pushes by digest only). Inputs without a tag are unaffected.
func WithTag(on bool) Option { return func(o *options) { o.tag = on } }

// WithInsecure allows plain HTTP to every registry. Without it plain HTTP is
// only used for loopback registries (localhost, 127.0.0.0/8, ::1).
func WithInsecure(on bool) Option { return func(o *options) { o.insecure = on } }

// WithOldBase and WithNewBase override the base annotations, for images built
// without them (crane rebase's --old_base and --new_base). Give both.
func WithOldBase(ref string) Option { return func(o *options) { o.oldBase = ref } }

// WithNewBase: see WithOldBase.
func WithNewBase(ref string) Option { return func(o *options) { o.newBase = ref } }

// WithKeepConfig keeps the image's config object (User, Env, Labels,
// Entrypoint...) exactly as it is, as crane rebase does, instead of merging
// it with the bases' (off by default). By default a value the image
// inherited from the old base takes the new base's, as a rebuild on the new
// base would give it: an image on a base that moved to a non-root user runs
// as that user. See ConfigChange.
func WithKeepConfig(on bool) Option { return func(o *options) { o.keepConfig = on } }

// WithTimeout bounds the work on one image, requests and retries included.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithKeychain sets where credentials come from (default authn.DefaultKeychain,
// the docker config and its credential helpers).
func WithKeychain(kc authn.Keychain) Option { return func(o *options) { o.keychain = kc } }

// WithTransport sets the HTTP transport shared by every request of the run
// (a net/http RoundTripper), under the registry client's own: see
// registry.NewTransport.
func WithTransport(t registry.RoundTripper) Option { return func(o *options) { o.transport = t } }

// WithRetryBackoff sets the backoff of retried requests (5xx, 429, broken
// connections). The default is go-containerregistry's: 3 tries, 1s then 3s.
func WithRetryBackoff(b remote.Backoff) Option { return func(o *options) { o.backoff = &b } }

// DefaultMaxRetryWait is the longest wait a registry may ask for before
// the operation fails instead, unless WithMaxRetryWait says otherwise.
const DefaultMaxRetryWait = time.Minute

// WithMaxRetryWait sets the longest wait a registry may ask for (default
// DefaultMaxRetryWait): a 429 or 503 with Retry-After, or a pull budget
// spent until its window resets, is waited for as asked up to d, and fails
// the operation at once beyond it, with a WaitTooLongError naming the wait
// asked for. Every wait ends with the image's timeout (WithTimeout) and
// its context. Waits asked for do not use up the retry backoff's tries.
//
// Whatever d, a registry that answers 429 gets fewer requests at once: its
// in-flight limit (WithMaxRequests) is halved, and grows back by one
// request a round once it answers again. A registry that sends Docker
// Hub's ratelimit-limit and ratelimit-remaining headers has its pulls
// (manifest GETs; HEADs are not pulls) paced to its window: once the
// budget is spent, pulls wait for the window to reset instead of being
// sent to be refused.
func WithMaxRetryWait(d time.Duration) Option { return func(o *options) { o.maxWait = d } }

// WaitTooLongError is the failure of an operation whose registry asked to
// wait longer than WithMaxRetryWait allows.
type WaitTooLongError = registry.WaitError

// WithNotices receives what a person should know of the registries'
// limits, once a run each (default: discarded): the first wait each
// registry asks for (the logger of WithLogger gets every one), and a pull
// budget that cannot cover the lines left (see WithBacklog).
func WithNotices(l *log.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.notices = l
		}
	}
}

// WithBacklog tells the engine how far its caller's input is (f is called
// as the engine needs it, from any goroutine): the lines (images) started,
// of those the ones done, and the lines in all, -1 while not known (a
// stream still open). The engine cannot know its input; with it, a
// registry's pull budget that cannot cover the pulls the run still needs
// (the pulls per line so far, times the lines not done) is said once
// (WithNotices), with the pulls left and when the window resets, rather
// than line after line failing.
func WithBacklog(f func() Backlog) Option { return func(o *options) { o.backlog = f } }

// Backlog is how far a run is through its input (WithBacklog).
type Backlog = registry.Backlog

// WithReferrers turns the referrers check of rebased images on or off (on by
// default). It costs one tag listing per repository and, on a registry that
// serves the OCI referrers API, one request per old digest (the index and
// each rebased platform manifest: 3 for a two-platform image); on one that
// does not, one request a run.
func WithReferrers(on bool) Option { return func(o *options) { o.referrers = on } }

// WithUserAgent sets the User-Agent of registry requests.
func WithUserAgent(ua string) Option { return func(o *options) { o.userAgent = ua } }

// WithLogger receives verbose progress messages (default: discarded).
// Credentials never reach it.
func WithLogger(l *log.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithRemoteOptions adds go-containerregistry remote options to the shared
// puller (for example remote.WithPageSize). The engine's own settings win
// over them: the transport (use WithTransport: it goes under the plain-HTTP
// guard, the digest check and the request bound), the keychain
// (WithKeychain), retries (WithRetryBackoff: the engine retries whole
// operations itself, so go-containerregistry's retries stay off), the user
// agent (WithUserAgent) and the jobs (WithJobs).
func WithRemoteOptions(opts ...remote.Option) Option {
	return func(o *options) { o.remoteOpts = append(o.remoteOpts, opts...) }
}

// WithSource and WithDestination read and write registry references
// through another store than the engine's registry client (a mirror, a
// test double, a registry in memory). References in skopeo's oci: syntax
// always go to the OCI layout they name.
func WithSource(s store.Source) Option { return func(o *options) { o.src = s } }

// WithDestination: see WithSource.
func WithDestination(d store.Destination) Option { return func(o *options) { o.dst = d } }
