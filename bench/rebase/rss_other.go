//go:build !unix

package main

import "os"

// peakRSS is not known here: Windows has no ru_maxrss (its peak working set
// needs the Win32 API, which the benchmark has no use for).
func peakRSS(*os.ProcessState) (int64, bool) { return 0, false }
