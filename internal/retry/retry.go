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

// Do runs f again, with backoff b, on 5xx/429/408 answers and broken
// connections; other errors and the context's end stop it at once. f is a
// whole operation: a GET and the reading of its body, or an upload from its
// POST to its PUT, so a connection cut in the middle of an upload starts a
// new upload session. Every write the engine makes is idempotent (blobs and
// manifests are pushed by digest, a mount can be asked twice), so repeating
// one whose answer was lost is safe. logf is told of every retry.
func Do(ctx context.Context, b remote.Backoff, logf func(string, ...any), f func() error) error {
	d := b.Duration
	for i := 1; ; i++ {
		err := f()
		if err == nil || i >= b.Steps || ctx.Err() != nil || !Retryable(err) {
			return err
		}
		logf("retrying after %v (try %d of %d): %v", d, i+1, b.Steps, err)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
		d = time.Duration(float64(d) * b.Factor)
	}
}

// Retryable reports whether err is worth another try: a 5xx/429/408 answer
// or a broken connection. A refused plain-HTTP request, a certificate that
// does not verify, an unknown host, a 4xx or the context's end are not.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
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
