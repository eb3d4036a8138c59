// Package retry is the engine's one retry policy: which errors are worth
// another try (Retryable) and the loop that tries again (Do). It sits under
// both the registry client, whose every operation it retries, and the
// engine's shared lookups, which forget a transient failure instead of
// remembering it for the rest of the run.
package retry

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ErrPlainHTTP is the failure of a request in plain HTTP to a registry that
// is not on a loopback address, without the insecure option. It is never
// retried. (The registry and rebase packages hand it on under their own
// names.)
var ErrPlainHTTP = errors.New("refusing plain HTTP")

// StatusCodes are retried with backoff, like broken connections.
var StatusCodes = []int{
	http.StatusRequestTimeout,
	http.StatusTooManyRequests,
	http.StatusInternalServerError,
	http.StatusBadGateway,
	http.StatusServiceUnavailable,
	http.StatusGatewayTimeout,
}

// DefaultBackoff is go-containerregistry's: 3 tries, 1s then 3s apart.
var DefaultBackoff = remote.Backoff{Duration: time.Second, Factor: 3, Steps: 3}

// DefaultMaxWait is the longest wait a registry may ask for (Retry-After,
// or the end of its pull budget's window) before an operation fails
// instead of waiting.
const DefaultMaxWait = time.Minute

// MaxAskedWaits bounds the waits one operation makes because the registry
// asked for them: they do not use up the backoff's tries (the registry
// said when to come back, and did not fail), but a registry that asks
// again and again must not hold an operation forever when its context
// has no deadline.
const MaxAskedWaits = 10

// Do runs f again, with backoff b, on 5xx/429/408 answers and broken
// connections; other errors and the context's end stop it at once. f is a
// whole operation: a GET and the reading of its body, or an upload from its
// POST to its PUT, so a connection cut in the middle of an upload starts a
// new upload session. Every write the engine makes is idempotent (blobs and
// manifests are pushed by digest, a mount can be asked twice), so repeating
// one whose answer was lost is safe. logf is told of every retry.
func Do(ctx context.Context, b remote.Backoff, logf func(string, ...any), f func() error) error {
	return Policy{Backoff: b, Logf: logf}.Do(ctx, f)
}

// Policy is the engine's retry policy: Do's backoff, and the waits a
// registry asks for.
type Policy struct {
	Backoff remote.Backoff
	// MaxWait is the longest wait a registry may ask for; 0:
	// DefaultMaxWait.
	MaxWait time.Duration
	// Asked, when set, is the time the registry that answered err asked
	// not to be asked again before (its Retry-After, or when its pull
	// budget's window resets), ok false when it said nothing of the kind.
	Asked func(err error) (host string, until time.Time, budget, ok bool)
	// Waiting, when set, is told of every wait the registry asked for,
	// before it begins.
	Waiting func(host string, d time.Duration, budget bool, err error)
	// Logf is told of every retry.
	Logf func(string, ...any)
}

// Do runs f as the package's Do does, except that an answer whose registry
// asked for a wait (Policy.Asked) is retried once that wait is over, as
// asked, instead of after the backoff's delay, and without using up one of
// its tries; a wait longer than MaxWait fails the operation at once with a
// *WaitError. Every wait ends with ctx.
func (p Policy) Do(ctx context.Context, f func() error) error {
	maxWait := p.MaxWait
	if maxWait <= 0 {
		maxWait = DefaultMaxWait
	}
	logf := p.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	d := p.Backoff.Duration
	for i, asked := 1, 0; ; {
		err := f()
		if err == nil || ctx.Err() != nil || !Retryable(err) {
			return err
		}
		wait := d
		if p.Asked != nil && asked < MaxAskedWaits {
			if host, until, budget, ok := p.Asked(err); ok {
				wait = max(time.Until(until), 0)
				if wait > maxWait {
					return &WaitError{Host: host, Wait: wait, Max: maxWait, Budget: budget, Err: err}
				}
				asked++
				if p.Waiting != nil {
					p.Waiting(host, wait, budget, err)
				}
				if !sleep(ctx, wait) {
					return err
				}
				continue
			}
		}
		if i >= p.Backoff.Steps {
			return err
		}
		i++
		logf("retrying after %v (try %d of %d): %v", wait, i, p.Backoff.Steps, err)
		if !sleep(ctx, wait) {
			return err
		}
		d = time.Duration(float64(d) * p.Backoff.Factor)
	}
}

// sleep waits d, or less when ctx ends first (then false).
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// WaitError is a registry that asks to be left alone for longer than the
// longest wait allowed: the operation fails instead of waiting. It is not
// retried.
type WaitError struct {
	Host   string        // the registry
	Wait   time.Duration // the wait asked for, from when it failed
	Max    time.Duration // the longest wait allowed
	Budget bool          // the wait is for its pull budget's window to reset
	Err    error         // the answer that asked for it; nil when the request was not sent (an earlier answer asked)
}

func (e *WaitError) Error() string {
	wait := e.Wait.Round(time.Second)
	if e.Budget {
		return fmt.Sprintf("the pull budget of %s is spent until its window resets in %s, longer than the longest wait allowed (%s)", e.Host, wait, e.Max)
	}
	return fmt.Sprintf("%s asks to wait %s before it is asked again (Retry-After), longer than the longest wait allowed (%s)", e.Host, wait, e.Max)
}

func (e *WaitError) Unwrap() error { return e.Err }

// Retryable reports whether err is worth another try: a 5xx/429/408 answer
// or a broken connection. A refused plain-HTTP request, a certificate that
// does not verify, an unknown host, a 4xx or the context's end are not.
func Retryable(err error) bool {
	var werr *WaitError
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &werr) {
		return false
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		return slices.Contains(StatusCodes, terr.StatusCode)
	}
	var (
		cert *tls.CertificateVerificationError
		dns  *net.DNSError
	)
	if errors.As(err, &cert) || errors.As(err, &dns) && dns.IsNotFound || errors.Is(err, ErrPlainHTTP) {
		return false
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNABORTED) {
		return true
	}
	var oerr *net.OpError
	if errors.As(err, &oerr) {
		return true
	}
	// *url.Error is a net.Error: only its timeouts say anything.
	var nerr net.Error
	if errors.As(err, &nerr) && nerr.Timeout() {
		return true
	}
	// net/http words some broken connections without a wrapped cause.
	msg := err.Error()
	for _, s := range []string{"connection reset", "broken pipe", "server closed", "connection broken", "unexpected EOF"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
