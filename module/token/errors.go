package token

import "time"

// ErrorKind says how a verification failure should be answered.
type ErrorKind int

const (
	// Invalid means the token is not acceptable: answer 401 with
	// error="invalid_token". It is the zero value, so an Error without a
	// kind fails closed.
	Invalid ErrorKind = iota
	// Unavailable means the token could not be checked yet (the provider's
	// keys have not loaded): answer 503 with Retry-After.
	Unavailable
)

// String returns "invalid" or "unavailable".
func (k ErrorKind) String() string {
	if k == Unavailable {
		return "unavailable"
	}
	return "invalid"
}

// DefaultRetryAfter is the Retry-After suggested while keys are not loaded.
const DefaultRetryAfter = 10 * time.Second

// Error is a verification failure. Description is short, human-readable and
// safe to send to the client as error_description: it never contains the
// token or attacker-controlled claim values.
type Error struct {
	Kind        ErrorKind
	Description string
	// RetryAfter is set for Unavailable errors.
	RetryAfter time.Duration
}

// Error returns the description.
func (e *Error) Error() string { return e.Description }

func invalid(desc string) *Error { return &Error{Kind: Invalid, Description: desc} }

func unavailable(desc string) *Error {
	return &Error{Kind: Unavailable, Description: desc, RetryAfter: DefaultRetryAfter}
}
