package retry

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

var tooMany = &transport.Error{StatusCode: http.StatusTooManyRequests}

// A wait the registry asks for is made as asked (not the backoff's delay)
// and does not use up a try: with one try, three answers that asked for a
// wait are still retried.
func TestPolicyWaitsAsAsked(t *testing.T) {
	calls := 0
	var waits []time.Duration
	p := Policy{
		Backoff: remote.Backoff{Duration: time.Hour, Factor: 1, Steps: 1},
		Asked: func(error) (string, time.Time, bool, bool) {
			return "reg.example", time.Now().Add(20 * time.Millisecond), false, true
		},
		Waiting: func(_ string, d time.Duration, _ bool, _ error) { waits = append(waits, d) },
	}
	start := time.Now()
	err := p.Do(context.Background(), func() error {
		if calls++; calls <= 3 {
			return tooMany
		}
		return nil
	})
	if err != nil || calls != 4 || len(waits) != 3 {
		t.Fatalf("%v after %d calls, %d waits; want success after 4, 3 waits", err, calls, len(waits))
	}
	if took := time.Since(start); took < 55*time.Millisecond || took > time.Second {
		t.Errorf("took %s, want three waits of 20ms", took)
	}
}

// Beyond MaxWait: a *WaitError at once, naming the wait, not retried; its
// text for a Retry-After and for a pull budget.
func TestPolicyWaitTooLong(t *testing.T) {
	for budget, want := range map[bool]string{
		false: "reg.example asks to wait 2m0s before it is asked again (Retry-After), longer than the longest wait allowed (1m0s)",
		true:  "the pull budget of reg.example is spent until its window resets in 2m0s, longer than the longest wait allowed (1m0s)",
	} {
		calls := 0
		p := Policy{
			Backoff: DefaultBackoff,
			Asked: func(error) (string, time.Time, bool, bool) {
				return "reg.example", time.Now().Add(2*time.Minute + 300*time.Millisecond), budget, true
			},
		}
		err := p.Do(context.Background(), func() error { calls++; return tooMany })
		var werr *WaitError
		if !errors.As(err, &werr) || err.Error() != want || calls != 1 || Retryable(err) || !errors.Is(err, tooMany) {
			t.Errorf("budget %v: %v after %d calls\nwant %s after 1", budget, err, calls, want)
		}
	}
}

// A registry that asks again and again is followed MaxAskedWaits times,
// then the backoff's tries take over; an ended context stops a wait.
func TestPolicyAskedBound(t *testing.T) {
	calls := 0
	p := Policy{
		Backoff: remote.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 2},
		Asked:   func(error) (string, time.Time, bool, bool) { return "r", time.Now(), false, true },
	}
	if err := p.Do(context.Background(), func() error { calls++; return tooMany }); err == nil || calls != MaxAskedWaits+2 {
		t.Errorf("%v after %d calls, want %d", err, calls, MaxAskedWaits+2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	p.Asked = func(error) (string, time.Time, bool, bool) { return "r", time.Now().Add(30 * time.Second), false, true }
	start := time.Now()
	if err := p.Do(ctx, func() error { return tooMany }); err == nil || time.Since(start) > time.Second {
		t.Errorf("%v after %s, want the 429 once the context ended (50ms)", err, time.Since(start))
	}
}
