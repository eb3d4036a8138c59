package registry

import (
	"context"
	"errors"
	"fmt"
	"log"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/rebasekit/rebasekit/internal/retry"
)

// How a run meets a registry's rate limits. The transport layer rateLimit
// (over hostLimit) keeps, per registry host:
//
//   - the time its last Retry-After (on a 429 or a 503) asked to be left
//     alone until: no request is sent to it before then, and the operation
//     whose answer asked is retried then (Client.retry asks the layer);
//   - an in-flight limit, additive increase, multiplicative decrease: a
//     429 halves it (once per round of requests: those sent before the
//     halving do not halve it again), and every answer that is not a 429
//     grows it by 1/limit, a request a round, back to the run's bound
//     (MaxRequests), where it stops being a limit of its own;
//   - its pull budget, when it sends Docker Hub's ratelimit-limit and
//     ratelimit-remaining headers (N;w=SECONDS): every manifest GET is a
//     pull (a HEAD is not). The pulls left are the last answer's remaining
//     less the pulls in flight; once none are left, pulls wait for the
//     window to reset (the time a 429's Retry-After names, else the first
//     pull of the window seen plus the window; then one pull goes first to
//     see) instead of being sent to be refused. The rest of the requests go
//     on: a budget counts pulls only.
//
// A wait longer than the longest allowed (Options.MaxRetryWait) is not
// made: the request fails at once with a *WaitError naming it.
type rateLimit struct {
	inner   http.RoundTripper
	ceiling int           // the run's bound per host (0: none)
	maxWait time.Duration // the longest wait allowed
	logger  *log.Logger   // each wait, at -v
	notices *log.Logger   // what is said once
	backlog func() (done, left int)

	mu    sync.Mutex
	hosts map[string]*hostRate
}

// hostRate is what rateLimit knows of one registry host.
type hostRate struct {
	host    string
	until   time.Time     // no request before (Retry-After)
	limit   float64       // the in-flight limit; 0: none of its own (no 429 yet, or grown back)
	cut     time.Time     // when it was last halved
	flight  int           // requests sent, not answered
	peak    int           // with no run bound: the requests in flight at the first 429, where the limit stops growing
	changed chan struct{} // closed (and replaced) when a waiting request may go

	known      bool          // a budget header was seen
	pullLimit  int           // ratelimit-limit's N
	window     time.Duration // its w
	left       int           // pulls left, less those in flight
	pullFlight int           // pulls sent, not answered
	reset      time.Time     // when the window resets; zero: not known
	exact      bool          // reset comes from a Retry-After
	probe      bool          // after an estimated reset: one pull goes first
	start      time.Time     // the first pull of the window seen was sent then
	pulls      int           // pulls answered
	waitSaid   bool          // a wait was said (notices)
	budgetSaid bool          // the budget's shortfall was said
}

func newRateLimit(inner http.RoundTripper, ceiling int, maxWait time.Duration, logger, notices *log.Logger, backlog func() (int, int)) *rateLimit {
	if maxWait <= 0 {
		maxWait = retry.DefaultMaxWait
	}
	return &rateLimit{inner: inner, ceiling: max(ceiling, 0), maxWait: maxWait, logger: logger, notices: notices,
		backlog: backlog, hosts: map[string]*hostRate{}}
}

// askedKey is the context key under which an answer's request carries the
// time its registry asked not to be asked before (asked).
type askedKey struct{}

type askedFor struct {
	host   string
	until  time.Time
	budget bool
}

func (l *rateLimit) hostOf(host string) *hostRate {
	h := l.hosts[host]
	if h == nil {
		h = &hostRate{host: host, changed: make(chan struct{})}
		l.hosts[host] = h
	}
	return h
}

// isPull: a manifest GET, what Docker Hub counts against its budget.
func isPull(req *http.Request) bool {
	_, _, ok := manifestPath(req.URL.Path)
	return req.Method == http.MethodGet && ok
}

func (l *rateLimit) RoundTrip(req *http.Request) (*http.Response, error) {
	pull := isPull(req)
	l.mu.Lock()
	h := l.hostOf(req.URL.Host)
	l.mu.Unlock()
	for {
		l.mu.Lock()
		now := time.Now()
		until, budget, ok := h.admit(now, pull)
		changed := h.changed
		l.mu.Unlock()
		if ok {
			break
		}
		var timer <-chan time.Time
		if !until.IsZero() {
			d := until.Sub(now)
			if d > l.maxWait {
				if req.Body != nil {
					req.Body.Close()
				}
				return nil, &retry.WaitError{Host: h.host, Wait: d, Max: l.maxWait, Budget: budget}
			}
			t := time.NewTimer(d)
			defer t.Stop()
			timer = t.C
		}
		select {
		case <-timer:
		case <-changed:
		case <-req.Context().Done():
			if req.Body != nil {
				req.Body.Close()
			}
			return nil, req.Context().Err()
		}
	}
	sent := time.Now()
	resp, err := l.inner.RoundTrip(req)
	l.mu.Lock()
	asked, said := h.answered(sent, pull, resp, l.ceiling)
	close(h.changed)
	h.changed = make(chan struct{})
	notice := l.shortfall(h)
	l.mu.Unlock()
	if said != "" {
		l.logger.Print(said)
	}
	if notice != "" {
		l.notices.Print(notice)
	}
	if asked != nil && resp != nil {
		r := resp.Request
		if r == nil {
			r = req
		}
		resp.Request = r.WithContext(context.WithValue(r.Context(), askedKey{}, asked))
	}
	return resp, err
}

// admit takes a place for a request (a pull when pull) and says so, or
// says until when it must wait (zero: until something changes) and
// whether for the budget.
func (h *hostRate) admit(now time.Time, pull bool) (until time.Time, budget, ok bool) {
	if now.Before(h.until) {
		return h.until, false, false
	}
	if pull && h.known && h.left <= 0 {
		switch {
		case h.reset.IsZero() && !h.start.IsZero():
			h.reset = h.start.Add(h.window) // at the latest, for a fixed window
		case h.reset.IsZero():
			h.probe = true // nothing says when: one pull goes to see
		}
		if !h.reset.IsZero() && now.Before(h.reset) {
			return h.reset, true, false
		}
		if !h.reset.IsZero() {
			// The window has reset: all of it is left after a Retry-After
			// said when; after a guess, one pull goes first to see.
			if h.exact {
				h.left = h.pullLimit
			} else {
				h.probe = true
			}
			h.reset, h.exact, h.start = time.Time{}, false, time.Time{}
		}
		if h.probe && h.pullFlight > 0 {
			return time.Time{}, true, false
		}
	}
	if h.limit > 0 && float64(h.flight) >= math.Floor(h.limit) {
		return time.Time{}, false, false
	}
	h.flight++
	if pull {
		h.pullFlight++
		if h.known {
			h.left--
		}
	}
	return time.Time{}, false, true
}

// answered takes in an answer (resp nil: none) to a request sent at sent:
// the in-flight limit, Retry-After, the budget. It returns what the
// answer asked for (nil: nothing) and what to say at -v.
func (h *hostRate) answered(sent time.Time, pull bool, resp *http.Response, ceiling int) (asked *askedFor, said string) {
	now := time.Now()
	h.flight--
	if pull {
		h.pullFlight--
		h.probe = false
	}
	if resp == nil {
		return nil, ""
	}
	if pull && resp.StatusCode == http.StatusOK {
		h.pulls++
	}
	spent := h.budget(sent, resp)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		if sent.After(h.cut) || sent.Equal(h.cut) {
			if h.limit == 0 {
				h.limit = float64(ceiling)
				if ceiling == 0 {
					h.peak = h.flight + 1
					h.limit = float64(h.peak)
				}
			}
			h.limit = max(1, math.Floor(h.limit/2))
			h.cut = now
			said = fmt.Sprintf("%s answered 429 Too Many Requests: at most %d requests in flight to it until it answers again", h.host, int(h.limit))
		}
	case h.limit > 0:
		h.limit += 1 / h.limit
		if h.limit >= float64(max(ceiling, h.peak)) {
			h.limit, h.peak = 0, 0
		}
	}
	if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable {
		return nil, said
	}
	if d, ok := retryAfter(resp.Header.Get("Retry-After"), now); ok {
		if pull && spent {
			h.reset, h.exact, h.left = now.Add(d), true, 0
			return &askedFor{host: h.host, until: h.reset, budget: true}, said
		}
		if u := now.Add(d); u.After(h.until) {
			h.until = u
		}
		return &askedFor{host: h.host, until: h.until}, said
	}
	if pull && spent && h.left <= 0 {
		if h.reset.IsZero() && !h.start.IsZero() {
			h.reset = h.start.Add(h.window)
		}
		if !h.reset.IsZero() {
			return &askedFor{host: h.host, until: h.reset, budget: true}, said
		}
	}
	return nil, said
}

// budget takes in the answer's ratelimit headers, if any, and says
// whether they say the budget is spent.
func (h *hostRate) budget(sent time.Time, resp *http.Response) (spent bool) {
	n, w, ok := rateLimitHeader(resp.Header.Get("Ratelimit-Limit"))
	r, _, rok := rateLimitHeader(resp.Header.Get("Ratelimit-Remaining"))
	if !ok || !rok {
		return false
	}
	left := r - h.pullFlight // the pulls in flight may not be counted yet
	if !h.known || r > h.left+h.pullFlight || h.start.IsZero() {
		// The first answer seen, or more left than before: a new window.
		h.start = sent
		if !h.exact {
			h.reset = time.Time{}
		}
	}
	h.known, h.pullLimit, h.window, h.left = true, n, w, left
	return r <= 0
}

// shortfall is what to say, once, when the pulls left in h's window cannot
// cover those the run still needs: the lines not done times the pulls per
// line done so far. The engine does not know its input; its caller says
// how many lines are done and how many are left (Options.Backlog), from the
// input's end on.
func (l *rateLimit) shortfall(h *hostRate) string {
	if h.budgetSaid || !h.known || l.backlog == nil {
		return ""
	}
	done, left := l.backlog()
	if done <= 0 || left <= 0 {
		return ""
	}
	need := (h.pulls*left + done - 1) / done
	have := max(h.left, 0)
	if need <= have {
		return ""
	}
	h.budgetSaid = true
	var when string
	var wait time.Duration
	switch {
	case !h.reset.IsZero():
		wait = time.Until(h.reset)
		when = "resets in " + wait.Round(time.Second).String()
	case !h.start.IsZero():
		wait = time.Until(h.start.Add(h.window))
		when = "resets within " + wait.Round(time.Second).String()
	default:
		wait = h.window
		when = "resets within " + wait.String()
	}
	then := "the run waits for it"
	if wait > l.maxWait {
		then = fmt.Sprintf("that is longer than the longest wait allowed (%s): the lines that need more pulls fail; run them again once it has reset, or with credentials that have a larger budget", l.maxWait)
	}
	return fmt.Sprintf("%s: the pull budget cannot cover this run: about %d more pulls for the %d lines left (%d pulls so far, base lookups included, for %d lines done), %d left of %d per %s; the window %s: %s",
		h.host, need, left, h.pulls, done, have, h.pullLimit, h.window, when, then)
}

// asked is what the registry that answered err asked for (Policy.Asked).
func asked(err error) (host string, until time.Time, budget, ok bool) {
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.Request == nil {
		return "", time.Time{}, false, false
	}
	a, _ := terr.Request.Context().Value(askedKey{}).(*askedFor)
	if a == nil {
		return "", time.Time{}, false, false
	}
	return a.host, a.until, a.budget, true
}

// waiting says a wait the registry asked for: the first one of each
// registry on the notices, every one at -v.
func (l *rateLimit) waiting(host string, d time.Duration, budget bool, err error) {
	why := "asks to wait " + d.Round(100*time.Millisecond).String() + " (Retry-After)"
	if budget {
		why = "'s pull budget is spent: waiting " + d.Round(100*time.Millisecond).String() + " for its window to reset"
	}
	l.logger.Printf("%s %s: %v", host, why, Text(err))
	l.mu.Lock()
	h := l.hostOf(host)
	first := !h.waitSaid
	h.waitSaid = true
	l.mu.Unlock()
	switch {
	case !first:
	case budget:
		l.notices.Printf("%s: its pull budget is spent: waiting %s for its window to reset (later waits are said in verbose mode only)", host, d.Round(time.Second))
	default:
		l.notices.Printf("%s asks to wait %s before it is asked again (%s, Retry-After): waiting, with fewer requests at once (later waits are said in verbose mode only)",
			host, d.Round(time.Second), statusText(err))
	}
}

func statusText(err error) string {
	s := Status(err)
	return fmt.Sprintf("%d %s", s, http.StatusText(s))
}

// retryAfter parses a Retry-After value: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		return time.Duration(min(s, math.MaxInt64/int64(time.Second))) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// rateLimitHeader parses Docker Hub's "N;w=SECONDS".
func rateLimitHeader(v string) (n int, w time.Duration, ok bool) {
	num, params, _ := strings.Cut(strings.TrimSpace(v), ";")
	n, err := strconv.Atoi(strings.TrimSpace(num))
	if err != nil || n < 0 {
		return 0, 0, false
	}
	for p := range strings.SplitSeq(params, ";") {
		if k, val, found := strings.Cut(strings.TrimSpace(p), "="); found && k == "w" {
			if s, err := strconv.Atoi(val); err == nil && s > 0 {
				w = time.Duration(s) * time.Second
			}
		}
	}
	return n, w, true
}
