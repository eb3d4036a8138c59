//go:build unix

package main

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// watchReader calls gone as soon as the reader of w, when w is a pipe, has
// closed it: poll reports POLLERR (POLLHUP on some systems) on a pipe's
// write end that has no reader left. Without it the images in flight would
// run to their end, up to the 10 s grace after a SIGINT, before the first
// write found out. It returns when done is closed.
func watchReader(w io.Writer, done <-chan struct{}, gone func()) {
	f, ok := w.(*os.File)
	if !ok {
		return
	}
	if st, err := f.Stat(); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		return
	}
	// The descriptor, without f.Fd's switch to blocking mode; stdout is
	// never closed while we run.
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	var fd int32
	if rc.Control(func(d uintptr) { fd = int32(d) }) != nil {
		return
	}
	go func() {
		fds := []unix.PollFd{{Fd: fd}}
		for {
			select {
			case <-done:
				return
			default:
			}
			n, err := unix.Poll(fds, 500)
			if err != nil && err != unix.EINTR {
				return
			}
			if n > 0 && fds[0].Revents&(unix.POLLERR|unix.POLLHUP) != 0 {
				gone()
				return
			}
		}
	}()
}
