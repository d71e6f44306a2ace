package assertion

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

// DefaultHeader is the request header the gateway sends the assertion in.
const DefaultHeader = "X-Auth-Assertion"

// ChallengeScheme is the auth-scheme of the WWW-Authenticate challenge the
// middleware sends with a 401. The assertion is not an Authorization
// credential, so neither Bearer nor any registered scheme fits; the
// challenge names the header that must carry it.
const ChallengeScheme = "EdgeAuth-Assertion"

type ctxKey struct{}

// NewContext returns ctx carrying id (what the middleware does; also for
// tests of handlers behind it).
func NewContext(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the identity the middleware verified for this
// request, if any.
func FromContext(ctx context.Context) (*Identity, bool) {
	id, ok := ctx.Value(ctxKey{}).(*Identity)
	return id, ok && id != nil
}

// Middleware passes a request to Next only when its assertion header holds
// exactly one assertion that Verifier accepts, with the identity in the
// request's context (FromContext). Otherwise it answers itself:
//
//   - no assertion: 401, WWW-Authenticate: EdgeAuth-Assertion
//     header="X-Auth-Assertion", body {"error":"assertion_required",…};
//   - a bad one (or several headers): 401, the same challenge plus
//     error="invalid_assertion" and error_description (the reason, fixed
//     text), body {"error":"invalid_assertion","error_description":…};
//   - the gateway's keys cannot be loaded: 503 with Retry-After,
//     body {"error":"temporarily_unavailable",…}.
//
// Bodies are JSON with Cache-Control: no-store and never contain the
// assertion or any of its content.
type Middleware struct {
	// Verifier checks the assertion (required).
	Verifier *Verifier
	// Next handles verified requests (required).
	Next http.Handler
	// Header is the request header holding the assertion (default
	// X-Auth-Assertion, for a gateway that renamed it with `header`).
	Header string
}

// Require returns a Middleware with the default header around next.
func (v *Verifier) Require(next http.Handler) http.Handler {
	return &Middleware{Verifier: v, Next: next}
}

// ServeHTTP implements http.Handler.
func (m *Middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	header := m.Header
	if header == "" {
		header = DefaultHeader
	}
	id, err := verifyRequest(r, m.Verifier, header)
	if err != nil {
		refuseRequest(w, header, err)
		return
	}
	m.Next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), id)))
}

// VerifyRequest verifies the assertion in header (default X-Auth-Assertion)
// of r, for handlers that do not want the middleware's answers. More than
// one header field is refused (ErrMalformed), none is ErrMissing.
func (v *Verifier) VerifyRequest(r *http.Request, header string) (*Identity, error) {
	if header == "" {
		header = DefaultHeader
	}
	return verifyRequest(r, v, header)
}

func verifyRequest(r *http.Request, v *Verifier, header string) (*Identity, error) {
	values := r.Header.Values(header)
	switch len(values) {
	case 0:
		return nil, ErrMissing
	case 1:
	default:
		return nil, refuse(ErrMalformed, "more than one assertion header")
	}
	if values[0] == "" {
		return nil, ErrMissing
	}
	return v.Verify(r.Context(), values[0])
}

func refuseRequest(w http.ResponseWriter, header string, err error) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	var status int
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	switch {
	case errors.Is(err, ErrKeysUnavailable) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		status = http.StatusServiceUnavailable
		h.Set("Retry-After", "5")
		body.Error, body.Description = "temporarily_unavailable", "the gateway's assertion keys cannot be loaded"
	case errors.Is(err, ErrMissing):
		status = http.StatusUnauthorized
		h.Set("WWW-Authenticate", ChallengeScheme+` header="`+header+`"`)
		body.Error, body.Description = "assertion_required", "no "+header+" header"
	default:
		status = http.StatusUnauthorized
		desc := describe(err)
		h.Set("WWW-Authenticate", ChallengeScheme+` header="`+header+`", error="invalid_assertion", error_description="`+desc+`"`)
		body.Error, body.Description = "invalid_assertion", desc
	}
	b, _ := json.Marshal(body)
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// describe is err's text made safe for a quoted-string: the texts are fixed
// by this package, but a custom header name or a Go error could hold a
// quote or a backslash.
func describe(err error) string {
	return strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 || r == 0x7f {
			return '\''
		}
		return r
	}, err.Error())
}
