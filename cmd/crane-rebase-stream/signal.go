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

	"github.com/rebasekit/rebasekit/internal/cmdline"
)

// grace is how long the images in flight may take to finish after the first
// SIGINT/SIGTERM; a second signal abandons them at once.
const grace = 10 * time.Second

// interrupt turns SIGINT/SIGTERM into a graceful stop: the first signal
// closes stop (no new line is taken, the images in flight finish), the second
// one, or the end of the grace period, ends ctx (they are abandoned). Every
// line read is answered either way.
//
// When the reader of stdout is gone (the next command of the pipeline has
// ended: Ctrl-C delivers SIGINT to the whole pipeline, and ko-rewrite stops
// at once), nobody can take an answer: readerGone abandons the images in
// flight at once instead. That is safe: the engine pushes by digest, blobs
// and platform manifests before the index and the tag, and nothing names an
// image until its line is printed, so what was pushed half-way is never
// referenced.
type interrupt struct {
	stop     chan struct{}
	stopOnce sync.Once
	ctx      context.Context
	cancel   context.CancelFunc
	sigs     cmdline.Interrupts
	pipes    chan os.Signal
	done     chan struct{}
	sig      atomic.Pointer[os.Signal]
	sigSeen  chan struct{} // closed once sig is stored
	gone     atomic.Bool
	stderr   io.Writer
	term     bool // stderr is a terminal
}

func newInterrupt(stderr io.Writer) *interrupt {
	i := &interrupt{stop: make(chan struct{}), sigs: cmdline.NotifyInterrupts(), pipes: make(chan os.Signal, 1), done: make(chan struct{}), sigSeen: make(chan struct{}), stderr: stderr}
	i.ctx, i.cancel = context.WithCancel(context.Background())
	i.term = isTerminal(stderr)
	// Notified, SIGPIPE no longer kills the process on a write to a stdout
	// whose reader is gone: the write fails with EPIPE, and the summary is
	// still said.
	signal.Notify(i.pipes, syscall.SIGPIPE)
	go func() {
		var sig os.Signal
		select {
		case sig = <-i.sigs:
		case <-i.done:
			return
		}
		i.sig.Store(&sig)
		close(i.sigSeen)
		// On a terminal the ^C the terminal echoed, or the progress line,
		// ends where the cursor is: start on a line of our own.
		nl := ""
		if i.term {
			nl = "\n"
		}
		// Say it before closing stop: once stop is closed the stream may
		// finish and the process exit before this goroutine runs again.
		fmt.Fprintf(stderr, "%scrane-rebase-stream: %s: taking no new line; finishing the images in flight (at most %s, signal again to abandon them)\n", nl, cmdline.SignalName(sig), grace)
		i.halt()
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case sig = <-i.sigs:
			fmt.Fprintf(stderr, "crane-rebase-stream: %s: abandoning the images in flight\n", cmdline.SignalName(sig))
		case <-t.C:
			fmt.Fprintf(stderr, "crane-rebase-stream: abandoning the images still in flight after %s\n", grace)
		case <-i.done:
		}
		i.cancel()
	}()
	return i
}

// halt closes stop: no new line is taken.
func (i *interrupt) halt() { i.stopOnce.Do(func() { close(i.stop) }) }

// readerGone abandons the images in flight at once: stdout's reader is
// gone, so no answer can be delivered. Called by the watcher of stdout, or
// when a write to stdout fails with EPIPE.
func (i *interrupt) readerGone() {
	if i.gone.Swap(true) {
		return
	}
	fmt.Fprintf(i.stderr, "crane-rebase-stream: standard output's reader is gone (the next command of the pipeline ended): abandoning the images in flight\n")
	i.halt()
	i.cancel()
}

// signalWith waits up to d for a signal that came with the reader's
// departure and returns the first signal, or nil. Ctrl-C reaches every
// process of the pipeline at once, and the reader's exit may be seen before
// our own SIGINT has gone through the runtime to the handler: the status
// must be 130 then, not 141.
func (i *interrupt) signalWith(d time.Duration) os.Signal {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-i.sigSeen:
	case <-t.C:
	}
	return i.signal()
}

// readerIsGone reports whether readerGone was called.
func (i *interrupt) readerIsGone() bool { return i.gone.Load() }

// isTerminal reports whether w (or the stderr a lockedWriter wraps) is a
// terminal.
func isTerminal(w io.Writer) bool {
	if l, ok := w.(*lockedWriter); ok {
		w = l.w
	}
	return cmdline.IsTerminal(w)
}

// lockedWriter serialises writes to stderr from the stream and the signal
// handler.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// outputsCtx is the context of the work done after the stream (the
// --summary's package reads): ended already when a signal came or the
// output's reader is gone, so the files are written at once.
func (i *interrupt) outputsCtx() context.Context {
	if i.signal() == nil && !i.readerIsGone() {
		return i.ctx
	}
	ctx, cancel := context.WithCancel(i.ctx)
	cancel()
	return ctx
}

// signal returns the first signal received, or nil.
func (i *interrupt) signal() os.Signal {
	if p := i.sig.Load(); p != nil {
		return *p
	}
	return nil
}

func (i *interrupt) close() {
	i.sigs.Stop()
	signal.Stop(i.pipes)
	close(i.done)
	i.cancel()
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
