// Package cache shares, between the concurrent callers of one run, a value
// computed once per key: a manifest, a token, a blob known to be present.
package cache

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/rebasekit/rebasekit/internal/retry"
)

// Memo computes a value once per key and shares it between concurrent
// callers. The engine keeps one per kind of lookup, so that a run sees one
// consistent snapshot of every base and fetches it once. A computation that
// ended because its caller's context ended is not remembered: the next caller
// tries again with its own context, and so do the callers waiting for it. One
// that failed for a transient reason (a 5xx, a broken connection) after its
// retries is not remembered either: a flaky moment must not fail every later
// image; but the callers that waited for it get its error, as they waited
// through the same retries (a registry that is down fails them once, not
// once per caller that joined in). A definite answer (not found, denied) is
// remembered.
type Memo[V any] struct {
	mu sync.Mutex
	m  map[string]*memoEntry[V]
}

type memoEntry[V any] struct {
	done chan struct{}
	v    V
	err  error
	// abandoned: the computation failed because its owner's context ended
	// (another image failed, a timeout, an interrupt, a warm-up stopped).
	// Its error, which may be any cancel cause, says nothing about the key:
	// waiters try again.
	abandoned bool
}

// Get is the value for key: fn's answer, computed by the first caller and
// shared with the callers that come meanwhile and after.
func (c *Memo[V]) Get(ctx context.Context, key string, fn func(context.Context) (V, error)) (V, error) {
	for {
		c.mu.Lock()
		if c.m == nil {
			c.m = make(map[string]*memoEntry[V])
		}
		e, ok := c.m[key]
		if !ok {
			e = &memoEntry[V]{done: make(chan struct{})}
			c.m[key] = e
			c.mu.Unlock()
			e.v, e.err = call(ctx, fn)
			if e.err != nil && (ctx.Err() != nil || retry.Retryable(e.err)) {
				e.abandoned = ctx.Err() != nil
				c.mu.Lock()
				delete(c.m, key)
				c.mu.Unlock()
			}
			close(e.done)
			return e.v, e.err
		}
		c.mu.Unlock()
		select {
		case <-e.done:
		case <-ctx.Done():
			var zero V
			return zero, ctx.Err()
		}
		if e.err != nil && (e.abandoned || errors.Is(e.err, context.Canceled) || errors.Is(e.err, context.DeadlineExceeded)) && ctx.Err() == nil {
			// The owner gave up, not the registry: try again ourselves.
			c.mu.Lock()
			if c.m[key] == e {
				delete(c.m, key)
			}
			c.mu.Unlock()
			continue
		}
		return e.v, e.err
	}
}

// call runs fn, turning a panic into an error: the entry's waiters must be
// answered (they would hang on done for ever), and the image fails instead
// of the whole run.
func call[V any](ctx context.Context, fn func(context.Context) (V, error)) (v V, err error) {
	defer func() {
		if p := recover(); p != nil {
			var zero V
			v, err = zero, Recovered(p)
		}
	}()
	return fn(ctx)
}

// ErrPanic marks a panic turned into an error.
var ErrPanic = errors.New("internal error")

// Recovered turns a recovered panic value into an error that fails the
// image (and every image waiting on the same computation) instead of the
// whole run or, worse, leaving the waiters hanging.
func Recovered(p any) error {
	return fmt.Errorf("%w (a bug: please report it): panic: %v", ErrPanic, p)
}
