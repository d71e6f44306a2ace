package sts

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// ErrorKind says how the gateway answers a failed exchange.
type ErrorKind int

const (
	// Unavailable: throttled, 5xx, timeout or unreachable. 503 + Retry-After.
	Unavailable ErrorKind = iota
	// InvalidToken: the STS rejected the caller's token. 401.
	InvalidToken
	// Forbidden: the token is fine but the role does not trust it. 403.
	Forbidden
	// Misconfigured: the gateway's STS settings are wrong (role, provider,
	// parameters, TLS trust). 502, and worth an error log.
	Misconfigured
)

// String names the kind.
func (k ErrorKind) String() string {
	switch k {
	case InvalidToken:
		return "invalid_token"
	case Forbidden:
		return "forbidden"
	case Misconfigured:
		return "misconfigured"
	default:
		return "unavailable"
	}
}

// Codes this package sets itself when the STS never answered (or answered
// nonsense). STS codes are passed through unchanged.
const (
	// CodeTimeout: the exchange did not finish within the timeout.
	CodeTimeout = "edgeauth.Timeout"
	// CodeUnreachable: connecting to or talking to the STS failed.
	CodeUnreachable = "edgeauth.Unreachable"
	// CodeBadResponse: the STS answered with a body that could not be parsed.
	CodeBadResponse = "edgeauth.BadResponse"
	// CodeTLS: the STS certificate could not be verified (configure tls_ca).
	CodeTLS = "edgeauth.TLSVerification"
	// CodeBadRequest: the request was refused locally before sending it.
	CodeBadRequest = "edgeauth.BadRequest"
)

// DefaultRetryAfter is the Retry-After given for Unavailable errors when the
// STS did not send one.
const DefaultRetryAfter = 2 * time.Second

// Error is a failed exchange. Message is safe for logs: it is the STS's own
// message text (or a local description), never a token or secret.
type Error struct {
	// Kind decides the HTTP status (see Status).
	Kind ErrorKind
	// Code is the STS error code (e.g. AuthenticationFail.OIDCToken.Expired)
	// or one of the edgeauth.* codes above.
	Code string
	// RequestID is the STS request ID, when there was one.
	RequestID string
	// Message is a log-safe description.
	Message string
	// RetryAfter is set for Unavailable errors.
	RetryAfter time.Duration
	// HTTPStatus is the STS's HTTP status (0 when it never answered).
	HTTPStatus int

	cause error
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("sts: ")
	b.WriteString(e.Kind.String())
	if e.Code != "" {
		b.WriteString(": ")
		b.WriteString(e.Code)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, " (HTTP %d", e.HTTPStatus)
		if e.RequestID != "" {
			b.WriteString(", request id ")
			b.WriteString(e.RequestID)
		}
		b.WriteString(")")
	} else if e.RequestID != "" {
		b.WriteString(" (request id ")
		b.WriteString(e.RequestID)
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns the underlying transport error, if any.
func (e *Error) Unwrap() error { return e.cause }

// Status is the HTTP status the gateway answers with: 401, 403, 502 or 503.
func (e *Error) Status() int {
	switch e.Kind {
	case InvalidToken:
		return http.StatusUnauthorized
	case Forbidden:
		return http.StatusForbidden
	case Misconfigured:
		return http.StatusBadGateway
	default:
		return http.StatusServiceUnavailable
	}
}

// retryable reports whether another attempt may succeed.
func (e *Error) retryable() bool {
	return e.Kind == Unavailable && e.Code != CodeTimeout
}

// parseRetryAfter reads a Retry-After header (seconds or HTTP date).
func parseRetryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	var secs int
	if _, err := fmt.Sscanf(v, "%d", &secs); err == nil && fmt.Sprint(secs) == v {
		if secs < 0 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
