//go:build !unix

package token

import "time"

// processCPU is not known here; cpu-ns/op is then not reported.
func processCPU() time.Duration { return 0 }
