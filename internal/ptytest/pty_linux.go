// Package ptytest opens a pseudo-terminal for tests that check what the
// binaries say to a person at a terminal (a prompt on stderr, Ctrl-C).
package ptytest

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"
)

// Open returns the controlling side and the terminal side of a new
// pseudo-terminal. Writing "\x04" (Ctrl-D) at the start of a line to the
// controlling side ends the terminal side's input.
func Open() (ptmx, tty *os.File, err error) {
	ptmx, err = os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_CLOEXEC|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	var unlock int32
	if err := ioctl(ptmx, syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); err != nil {
		ptmx.Close()
		return nil, nil, fmt.Errorf("unlockpt: %w", err)
	}
	var n uint32
	if err := ioctl(ptmx, syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); err != nil {
		ptmx.Close()
		return nil, nil, fmt.Errorf("ptsname: %w", err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		ptmx.Close()
		return nil, nil, err
	}
	return ptmx, tty, nil
}

func ioctl(f *os.File, req, arg uintptr) error {
	_, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), req, arg)
	if e != 0 {
		return e
	}
	return nil
}
