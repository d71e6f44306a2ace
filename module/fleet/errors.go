package fleet

import (
	"errors"
	"fmt"
	"time"
)

// ErrUnavailable means Redis could not be used (unreachable, timed out,
// refusing commands). It is never session.ErrNoSession: the handler answers
// 503 with Retry-After (see RetryAfter) for requests that need the store,
// rather than treating the caller as logged out. Match it with errors.Is.
var ErrUnavailable = errors.New("fleet: redis unavailable")

// errCircuitOpen is the cause while the client is waiting out
// RetryInterval after a failure.
var errCircuitOpen = errors.New("a recent command failed; not trying again yet")

// UnavailableError is the concrete error behind ErrUnavailable.
type UnavailableError struct {
	// Op is what was being done, e.g. "load session".
	Op string
	// RetryAfter is a suggested Retry-After.
	RetryAfter time.Duration
	// Err is the cause (from go-redis; it holds no password or value).
	Err error
}

// Error implements error.
func (e *UnavailableError) Error() string {
	return fmt.Sprintf("fleet: redis unavailable (%s): %v; check that Redis is running and reachable", e.Op, e.Err)
}

// Unwrap returns the cause.
func (e *UnavailableError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrUnavailable) true.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// RetryAfter returns the suggested Retry-After of an ErrUnavailable error
// (at least one second), and false for other errors.
func RetryAfter(err error) (time.Duration, bool) {
	var ue *UnavailableError
	if !errors.As(err, &ue) {
		return 0, false
	}
	return max(ue.RetryAfter.Round(time.Second), time.Second), true
}
