//go:build !linux

package ptytest

import (
	"errors"
	"os"
)

// Open is implemented on Linux only; elsewhere the terminal tests skip.
func Open() (ptmx, tty *os.File, err error) {
	return nil, nil, errors.New("ptytest: pseudo-terminals are opened on Linux only")
}
