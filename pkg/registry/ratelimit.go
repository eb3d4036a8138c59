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
//     pull (a HEAD is not). The pulls left are what the answers' remaining
//     leaves once the pulls that may not have been counted yet are taken
//     off (hostRate); once none are left, pulls wait for the window to
//     reset (the time a 429's Retry-After names, else the window's first
//     pull plus the window; then one pull goes first to see) instead of
//     being sent to be refused. The rest of the requests go
//     on: a budget counts pulls only. The first pull of a run goes alone
//     (for a second at most), so that a burst of pulls does not spend a
//     budget nobody knows yet.
//
// A wait longer than the longest allowed (Options.MaxRetryWait) is not
// made: the request fails at once with a *WaitError naming it.
type rateLimit struct {
	inner   http.RoundTripper
	ceiling int           // the run's bound per host (0: none)
	maxWait time.Duration // the longest wait allowed
	logger  *log.Logger   // each wait, at -v
	notices *log.Logger   // what is said once
	backlog func() Backlog

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

	// The pull budget. An answer saying r pulls remain was written once
	// the registry had counted all but r of the window's; every pull
	// answered since was counted, so only those in flight may still be:
	// at least r - (pulls in flight) are left, r the least the window's
	// answers said (whatever order they came back in). Nor can more be
	// left than the window's limit less the pulls sent in it. Answers to
	// requests sent before the window began say nothing of it.
	known      bool          // a budget header was seen
	pullLimit  int           // ratelimit-limit's N
	window     time.Duration // its w
	seq        int           // pulls sent
	winSeq     int           // seq when the window began
	rMin       int           // the least remaining the window's answers said; math.MaxInt: none
	epoch      time.Time     // when the window began (in this model)
	start      time.Time     // when its first pull was sent; zero: none yet
	reset      time.Time     // when it resets; zero: not known
	exact      bool          // reset comes from a Retry-After
	probe      bool          // after an estimated reset: bound lets one pull go to see
	pullFlight int           // pulls sent, not answered
	pulls      int           // pulls answered
	firstPull  time.Time     // when the run's first pull was sent
	pullSeen   bool          // a pull was answered
	waitSaid   bool          // a wait was said (notices)
	saidReset  time.Time     // the reset the pulls' wait was said for (-v)
	budgetSaid bool          // the budget's shortfall was said
}

// left is the pulls left in the window, as far as the answers tell.
func (h *hostRate) left() int {
	return min(h.pullLimit+h.winSeq-h.seq, h.rMin-h.pullFlight)
}

// newWindow begins a window once the last one has reset: after a
// Retry-After said when (exact), all of it is left; after a guess, one
// pull goes first to see.
func (h *hostRate) newWindow(now time.Time, exact bool) {
	h.winSeq, h.epoch, h.start, h.reset, h.exact = h.seq, now, time.Time{}, time.Time{}, false
	h.rMin, h.probe = math.MaxInt, !exact
	if !exact {
		h.rMin = 1 // until the probe's answer says
	}
}

func newRateLimit(inner http.RoundTripper, ceiling int, maxWait time.Duration, logger, notices *log.Logger, backlog func() Backlog) *rateLimit {
	if maxWait <= 0 {
		maxWait = retry.DefaultMaxWait
	}
	return &rateLimit{inner: inner, ceiling: max(ceiling, 0), maxWait: maxWait, logger: logger, notices: notices,
		backlog: backlog, hosts: map[string]*hostRate{}}
}

// firstPullWait bounds how long the other pulls to a registry wait for the
// answer to its first one (which tells whether it has a pull budget).
const firstPullWait = time.Second

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
		h = &hostRate{host: host, changed: make(chan struct{}), rMin: math.MaxInt}
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
	var tk ticket
	for {
		l.mu.Lock()
		now := time.Now()
		until, why, ok := h.admit(now, pull, &tk)
		changed := h.changed
		said, notice := h.budgetWait(until, why == waitBudget)
		l.mu.Unlock()
		if said != "" {
			l.logger.Print(said)
		}
		if notice != "" {
			l.notices.Print(notice)
		}
		if ok {
			break
		}
		if d := until.Sub(now); why != waitFirst && !until.IsZero() && d > l.maxWait {
			if req.Body != nil {
				req.Body.Close()
			}
			return nil, &retry.WaitError{Host: h.host, Wait: d, Max: l.maxWait, Budget: why == waitBudget}
		}
		if err := waitUntil(req.Context(), until, changed); err != nil {
			if req.Body != nil {
				req.Body.Close()
			}
			return nil, err
		}
	}
	resp, err := l.inner.RoundTrip(req)
	l.mu.Lock()
	asked, said := h.answered(tk, pull, resp, l.ceiling)
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

// waitUntil waits until until (zero: for ever), or until changed is
// closed, or ctx ends (then its error).
func waitUntil(ctx context.Context, until time.Time, changed <-chan struct{}) error {
	var timer <-chan time.Time
	if !until.IsZero() {
		t := time.NewTimer(time.Until(until))
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-timer:
	case <-changed:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// Why a request waits (admit).
const (
	waitSlot       = iota // for a place among the requests in flight, or for a pull's answer
	waitRetryAfter        // for the time a Retry-After named
	waitBudget            // for the pull budget's window to reset
	waitFirst             // for the answer to the run's first pull
)

// budgetWait is what to say when pulls begin to wait until until for h's
// budget (wait): at -v once a window, on the notices once a run.
func (h *hostRate) budgetWait(until time.Time, wait bool) (said, notice string) {
	if !wait || until.IsZero() || until.Equal(h.saidReset) {
		return "", ""
	}
	h.saidReset = until
	said = fmt.Sprintf("%s: its pull budget is spent (%d per %s): pulls wait %s for its window to reset",
		h.host, h.pullLimit, h.window, time.Until(until).Round(100*time.Millisecond))
	if !h.waitSaid {
		h.waitSaid = true
		notice = said + " (later waits are said in verbose mode only)"
	}
	return said, notice
}

// ticket is what admit gave a request: when it was sent.
type ticket struct{ sent time.Time }

// admit takes a place for a request (a pull when pull) and says so, filling
// in tk, or says until when it must wait (zero: until something changes)
// and why.
func (h *hostRate) admit(now time.Time, pull bool, tk *ticket) (until time.Time, why int, ok bool) {
	if now.Before(h.until) {
		return h.until, waitRetryAfter, false
	}
	if pull && !h.pullSeen && h.pullFlight > 0 && now.Before(h.firstPull.Add(firstPullWait)) {
		// The first pull goes alone, to learn whether the registry has a
		// budget before a burst spends it; not for long, in case it hangs.
		return h.firstPull.Add(firstPullWait), waitFirst, false
	}
	if pull && h.known && h.left() <= 0 {
		if h.reset.IsZero() && !h.start.IsZero() {
			h.reset = h.start.Add(h.window) // at the latest, for a fixed window
		}
		switch {
		case !h.reset.IsZero() && now.Before(h.reset):
			return h.reset, waitBudget, false
		case !h.reset.IsZero():
			h.newWindow(now, h.exact)
		case h.pullFlight == 0:
			// Spent, and nothing says since when: one pull goes to see
			// (a 429's Retry-After will tell).
			h.newWindow(now, false)
		}
		if h.left() <= 0 {
			return time.Time{}, waitSlot, false // a probe is out
		}
	}
	if h.limit > 0 && float64(h.flight) >= math.Floor(h.limit) {
		return time.Time{}, waitSlot, false
	}
	h.flight++
	*tk = ticket{sent: now}
	if pull {
		if h.firstPull.IsZero() {
			h.firstPull = now
		}
		if h.start.IsZero() {
			h.start = now
		}
		h.seq++
		h.pullFlight++
	}
	return time.Time{}, waitSlot, true
}

// answered takes in an answer (resp nil: none) to a request admitted as tk:
// the in-flight limit, Retry-After, the budget. It returns what the
// answer asked for (nil: nothing) and what to say at -v.
func (h *hostRate) answered(tk ticket, pull bool, resp *http.Response, ceiling int) (asked *askedFor, said string) {
	now := time.Now()
	h.flight--
	if pull {
		h.pullFlight--
		h.pullSeen = h.pullSeen || resp != nil
	}
	if resp == nil {
		return nil, ""
	}
	if pull && resp.StatusCode == http.StatusOK {
		h.pulls++
	}
	fresh := !tk.sent.Before(h.epoch) // sent in the window as this model has it
	spent := h.budget(fresh, resp)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		if !tk.sent.Before(h.cut) {
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
	d, ok := retryAfter(resp.Header.Get("Retry-After"), now)
	if pull && spent {
		switch {
		case !fresh:
			// Spent in a window that has reset since: try again now.
			return &askedFor{host: h.host, until: now, budget: true}, said
		case ok:
			h.reset, h.exact = now.Add(d), true
		case h.reset.IsZero() && !h.start.IsZero():
			h.reset = h.start.Add(h.window)
		}
		if !h.reset.IsZero() {
			return &askedFor{host: h.host, until: h.reset, budget: true}, said
		}
		return nil, said
	}
	if !ok {
		return nil, said
	}
	if u := now.Add(d); u.After(h.until) {
		h.until = u
	}
	return &askedFor{host: h.host, until: h.until}, said
}

// budget takes in the answer's ratelimit headers, if any, and says
// whether they say the budget is spent.
func (h *hostRate) budget(fresh bool, resp *http.Response) (spent bool) {
	n, w, ok := rateLimitHeader(resp.Header.Get("Ratelimit-Limit"))
	r, _, rok := rateLimitHeader(resp.Header.Get("Ratelimit-Remaining"))
	if !ok || !rok {
		return false
	}
	h.known, h.pullLimit, h.window = true, n, w
	if fresh {
		if h.probe {
			h.rMin, h.probe = r, false
		} else {
			h.rMin = min(h.rMin, r)
		}
	}
	return r <= 0
}

// shortfall is what to say, once, when the pulls left in h's window cannot
// cover those the run still needs. The engine does not know its input: its
// caller says how many lines have started, how many are done and how many
// there are (Options.Backlog). The pulls a line takes are the pulls so far
// over the lines started (the bases' lookups, once a run, spread over
// them); the run needs that many for each line not started, and half as
// many for each one in flight. Nothing is said before a line is done, nor
// while the number of lines is not known.
func (l *rateLimit) shortfall(h *hostRate) string {
	if h.budgetSaid || !h.known || l.backlog == nil {
		return ""
	}
	b := l.backlog()
	if b.Done <= 0 || b.Lines < 0 || b.Started < b.Done {
		return ""
	}
	perLine := float64(h.pulls) / float64(b.Started)
	need := int(math.Ceil(perLine*float64(max(b.Lines-b.Started, 0)) + perLine/2*float64(b.Started-b.Done)))
	have := max(h.left(), 0)
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
	return fmt.Sprintf("%s: the pull budget cannot cover this run: it needs about %d more pulls for its %d lines not done (%d pulls so far for %d lines started), %d are left of %d per %s, and the window %s: %s",
		h.host, need, b.Lines-b.Done, h.pulls, b.Started, have, h.pullLimit, h.window, when, then)
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
	why := " asks to wait " + d.Round(100*time.Millisecond).String() + " (Retry-After)"
	if budget {
		why = ": its pull budget is spent: waiting " + d.Round(100*time.Millisecond).String() + " for its window to reset"
	}
	l.logger.Printf("%s%s: %v", host, why, Text(err))
	l.mu.Lock()
	h := l.hostOf(host)
	first := !h.waitSaid
	h.waitSaid = true
	l.mu.Unlock()
	switch {
	case !first:
	case budget:
		l.notices.Printf("%s: its pull budget is spent: pulls wait %s for its window to reset (later waits are said in verbose mode only)", host, d.Round(100*time.Millisecond))
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
