package cmdline

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Interrupts receives SIGINT and SIGTERM, the signals the commands honour
// (each at the points where stopping is safe), once NotifyInterrupts has
// returned it.
type Interrupts chan os.Signal

// NotifyInterrupts starts catching SIGINT and SIGTERM: they no longer end
// the process, they arrive on the channel. It holds two, so that a second
// signal waits while the first is handled.
func NotifyInterrupts() Interrupts {
	c := make(Interrupts, 2)
	signal.Notify(c, os.Interrupt, syscall.SIGTERM)
	return c
}

// Stop stops catching: the signals end the process again.
func (c Interrupts) Stop() { signal.Stop(c) }

// Pending is Interrupted's error for a signal that arrived since the last
// call, or nil.
func (c Interrupts) Pending() error {
	select {
	case s := <-c:
		return Interrupted(s)
	default:
		return nil
	}
}

// Interrupted is the error for stopping on s, "interrupted (SIGINT)", with
// InterruptStatus(s) as its exit status.
func Interrupted(s os.Signal) error {
	return &StatusError{Code: InterruptStatus(s), Err: fmt.Errorf("interrupted (%s)", SignalName(s))}
}

// InterruptStatus is the exit status of a command stopped by s, as a shell
// reports a process killed by it: 128 + the signal, so 130 for SIGINT, 143
// for SIGTERM, 141 for SIGPIPE (130 for a signal without a number).
func InterruptStatus(s os.Signal) int {
	if n, ok := s.(syscall.Signal); ok {
		return ExitInterrupted + int(n)
	}
	return ExitInterrupted + int(syscall.SIGINT)
}

// SignalName is the name people know a signal by: SIGINT, SIGTERM.
func SignalName(s os.Signal) string {
	switch s {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}
