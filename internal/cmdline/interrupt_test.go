package cmdline

import (
	"os"
	"syscall"
	"testing"
)

// The words and statuses of an interrupt, the same in the three commands.
func TestInterrupted(t *testing.T) {
	for _, tc := range []struct {
		sig  os.Signal
		msg  string
		code int
	}{
		{os.Interrupt, "interrupted (SIGINT)", 130},
		{syscall.SIGTERM, "interrupted (SIGTERM)", 143},
		{syscall.SIGPIPE, "interrupted (broken pipe)", 141},
	} {
		err := Interrupted(tc.sig)
		if err.Error() != tc.msg || Status(err) != tc.code || InterruptStatus(tc.sig) != tc.code {
			t.Errorf("%v: %q, exit %d; want %q, exit %d", tc.sig, err, Status(err), tc.msg, tc.code)
		}
	}
}

// A signal caught is pending once; Stop ends the catching.
func TestInterruptsPending(t *testing.T) {
	c := NotifyInterrupts()
	defer c.Stop()
	if err := c.Pending(); err != nil {
		t.Fatalf("pending before any signal: %v", err)
	}
	c <- syscall.SIGTERM // as signal.Notify delivers it
	if err := c.Pending(); Status(err) != 143 {
		t.Errorf("pending: %v (exit %d), want SIGTERM's 143", err, Status(err))
	}
	if err := c.Pending(); err != nil {
		t.Errorf("pending twice: %v", err)
	}
}
