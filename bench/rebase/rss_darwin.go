//go:build darwin || ios

package main

import (
	"os"
	"syscall"
)

// peakRSS is the child's ru_maxrss, which macOS counts in bytes.
func peakRSS(ps *os.ProcessState) (int64, bool) {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok || ru == nil {
		return 0, false
	}
	return int64(ru.Maxrss) / 1024, true
}
