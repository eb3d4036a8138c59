package main

import (
	"fmt"

	"github.com/rebasekit/rebasekit/internal/cmdline"
)

// readOrInterrupt runs read, which may block on a terminal or a pipe that
// never ends, and returns early when a signal arrives: a person who typed
// Ctrl-C at ko-rewrite waiting for --images - gets their shell back (exit
// 130), with nothing written. The read goroutine is abandoned; the process
// exits right after.
func readOrInterrupt(sig cmdline.Interrupts, read func() error) error {
	done := make(chan error, 1)
	go func() { done <- read() }()
	select {
	case err := <-done:
		return err
	case s := <-sig:
		return fmt.Errorf("%w; nothing written", cmdline.Interrupted(s))
	}
}
