package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
)

// rss runs the command given after its flags (stdin, stdout and stderr its
// own) and prints "peak RSS: N KB" to stderr once it ends: the kernel's
// ru_maxrss of the child (rss_*.go: where there is one). It exits with the command's status.
func rss(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: rss CMD [ARG...]")
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	if cmd.ProcessState == nil {
		return err
	}
	if kb, ok := peakRSS(cmd.ProcessState); ok {
		fmt.Fprintf(os.Stderr, "peak RSS: %d KB\n", kb)
	} else {
		fmt.Fprintln(os.Stderr, "peak RSS: not known on this system")
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		os.Exit(code)
	}
	return nil
}
