package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/rebasekit/rebasekit/internal/cmdline"
)

// signals notes SIGINT and SIGTERM so that they are honoured between steps:
// nothing is written until every check has passed, and each file is
// replaced atomically, so an interrupt never leaves a temporary file or a
// half-done file behind.
type signals chan os.Signal

func notifySignals() signals {
	sig := make(signals, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	return sig
}

func (sig signals) stop() { signal.Stop(sig) }

// pending is the error for a signal that arrived since the last check, or nil.
func (sig signals) pending() error {
	select {
	case s := <-sig:
		return interruptedBy(s)
	default:
		return nil
	}
}

// interruptedBy is the error for a signal before anything was written: exit
// status 128 + the signal (130 for SIGINT, 143 for SIGTERM).
func interruptedBy(s os.Signal) error {
	code := cmdline.ExitInterrupted + int(syscall.SIGINT)
	if n, ok := s.(syscall.Signal); ok {
		code = cmdline.ExitInterrupted + int(n)
	}
	name := s.String()
	switch s {
	case os.Interrupt:
		name = "SIGINT"
	case syscall.SIGTERM:
		name = "SIGTERM"
	}
	return &cmdline.StatusError{Code: code, Err: fmt.Errorf("interrupted (%s)", name)}
}

// readOrInterrupt runs read, which may block on a terminal or a pipe that
// never ends, and returns early when a signal arrives: a person who typed
// Ctrl-C at ko-rewrite waiting for --images - gets their shell back (exit
// 130), with nothing written. The read goroutine is abandoned; the process
// exits right after.
func readOrInterrupt(sig signals, read func() error) error {
	done := make(chan error, 1)
	go func() { done <- read() }()
	select {
	case err := <-done:
		return err
	case s := <-sig:
		return fmt.Errorf("%w; nothing written", interruptedBy(s))
	}
}
