//go:build !unix

package main

import (
	"errors"
	"time"
)

// selfCPU is not available here: the CPU costs are left out.
func selfCPU() (time.Duration, error) {
	return 0, errors.New("process CPU time is not available on this system")
}
