package cache

import (
	"context"
	"errors"
	"fmt"
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
