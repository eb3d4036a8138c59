package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"
)

// A shared fetch abandoned because its owner's context was cancelled with a
// cause (another image's error) is retried by the waiters, not reported as
// their failure.
func TestMemoAbandonedOwner(t *testing.T) {
	var m Memo[int]
	ownerCtx, cancel := context.WithCancelCause(context.Background())
	started := make(chan struct{})
	go func() {
		m.Get(ownerCtx, "k", func(ctx context.Context) (int, error) {
			close(started)
			<-ctx.Done()
			return 0, fmt.Errorf("fetch: %w", context.Cause(ctx))
		})
	}()
	<-started
	res := make(chan error, 1)
	go func() {
		v, err := m.Get(context.Background(), "k", func(context.Context) (int, error) { return 42, nil })
		if err == nil && v != 42 {
			err = fmt.Errorf("v = %d", v)
		}
		res <- err
	}()
	time.Sleep(10 * time.Millisecond) // let the waiter wait on the owner's entry
	cancel(errors.New("layers do not start with the old base"))
	if err := <-res; err != nil {
		t.Fatalf("waiter got the owner's error: %v", err)
	}
}

// A computation that failed for a transient reason after its retries is
// not remembered for later callers, but the callers that waited for it get
// its error instead of starting the same retries again (a warm-up that owns
// a base's lookup made the plan waiting for it retry twice as long).
func TestMemoTransientFailureShared(t *testing.T) {
	var m Memo[int]
	calls := 0
	started, release := make(chan struct{}), make(chan struct{})
	transient := fmt.Errorf("GET: %w", io.ErrUnexpectedEOF)
	go m.Get(context.Background(), "k", func(context.Context) (int, error) {
		calls++
		close(started)
		<-release
		return 0, transient
	})
	<-started
	res := make(chan error, 1)
	go func() {
		_, err := m.Get(context.Background(), "k", func(context.Context) (int, error) { calls++; return 42, nil })
		res <- err
	}()
	time.Sleep(10 * time.Millisecond) // let the waiter wait on the owner's entry
	close(release)
	if err := <-res; !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("waiter: %v, want the owner's transient error", err)
	}
	if v, err := m.Get(context.Background(), "k", func(context.Context) (int, error) { calls++; return 42, nil }); err != nil || v != 42 {
		t.Fatalf("a later caller: %d, %v; want it computed again", v, err)
	}
	if calls != 2 {
		t.Errorf("%d computations, want 2", calls)
	}
}
