//go:build unix

package token

import (
	"syscall"
	"time"
)

// processCPU is the test process's user + system CPU time so far, or 0.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
