package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// grace is how long the images in flight may take to finish after the first
// SIGINT/SIGTERM; a second signal abandons them at once.
const grace = 10 * time.Second

// interrupt turns SIGINT/SIGTERM into a graceful stop: the first signal
// closes stop (no new line is taken, the images in flight finish), the second
// one, or the end of the grace period, ends ctx (they are abandoned). Every
// line read is answered either way.
type interrupt struct {
	stop   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	sigs   chan os.Signal
	done   chan struct{}
	sig    atomic.Pointer[os.Signal]
}

func newInterrupt(stderr io.Writer) *interrupt {
	i := &interrupt{stop: make(chan struct{}), sigs: make(chan os.Signal, 2), done: make(chan struct{})}
	i.ctx, i.cancel = context.WithCancel(context.Background())
	signal.Notify(i.sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		var sig os.Signal
		select {
		case sig = <-i.sigs:
		case <-i.done:
			return
		}
		i.sig.Store(&sig)
		// Say it before closing stop: once stop is closed the stream may
		// finish and the process exit before this goroutine runs again.
		fmt.Fprintf(stderr, "crane-rebase-stream: %s: taking no new line; finishing the images in flight (at most %s, signal again to abandon them)\n", sigName(sig), grace)
		close(i.stop)
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case sig = <-i.sigs:
			fmt.Fprintf(stderr, "crane-rebase-stream: %s: abandoning the images in flight\n", sigName(sig))
		case <-t.C:
			fmt.Fprintf(stderr, "crane-rebase-stream: abandoning the images still in flight after %s\n", grace)
		case <-i.done:
		}
		i.cancel()
	}()
	return i
}

func sigName(s os.Signal) string {
	switch s {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

func exitCode(s os.Signal) int {
	if n, ok := s.(syscall.Signal); ok {
		return exitInterrupted + int(n)
	}
	return exitInterrupted + int(syscall.SIGINT)
}

// lockedWriter serialises writes to stderr from the stream and the signal
// handler.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// signal returns the first signal received, or nil.
func (i *interrupt) signal() os.Signal {
	if p := i.sig.Load(); p != nil {
		return *p
	}
	return nil
}

func (i *interrupt) close() {
	signal.Stop(i.sigs)
	close(i.done)
	i.cancel()
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
