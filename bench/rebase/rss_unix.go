//go:build unix && !darwin && !ios

package main

import (
	"os"
	"syscall"
)

// peakRSS is the child's ru_maxrss, which Linux and the BSDs count in KB.
func peakRSS(ps *os.ProcessState) (int64, bool) {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok || ru == nil {
		return 0, false
	}
	return int64(ru.Maxrss), true
}
