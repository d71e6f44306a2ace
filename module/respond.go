package edgeauth

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/policy"
)

// challenge is the content of an RFC 6750 error answer.
type challenge struct {
	errCode     string // JSON body `error`
	description string // JSON body `error_description` (and the header's when inHeader)
	inHeader    bool   // put error="<errCode>" and the description in WWW-Authenticate
	scope       string // scope="…" for insufficient_scope
	headerError string // error="…" in WWW-Authenticate when it differs from errCode
}

// errorBody is the JSON body of every error answer.
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
	Code        string `json:"code,omitempty"`
	RequestID   string `json:"request_id,omitempty"`
}

// writeChallenge answers with status, a `WWW-Authenticate: Bearer` challenge
// whose realm is the request's host, and a JSON body. It returns nil: the
// answer is complete, and Caddy's error handling must not add another.
func writeChallenge(w http.ResponseWriter, r *http.Request, status int, c challenge) error {
	return writeChallengeExtra(w, r, status, c, nil)
}

// writeChallengeExtra is writeChallenge with the STS code and request ID
// added to the body when extra is set.
func writeChallengeExtra(w http.ResponseWriter, r *http.Request, status int, c challenge, extra *errorBody) error {
	var b strings.Builder
	b.WriteString(`Bearer realm=`)
	b.WriteString(quote(r.Host))
	hdrErr := c.headerError
	if hdrErr == "" && c.inHeader {
		hdrErr = c.errCode
	}
	if hdrErr != "" {
		b.WriteString(`, error=`)
		b.WriteString(quote(hdrErr))
		if c.description != "" && c.inHeader {
			b.WriteString(`, error_description=`)
			b.WriteString(quote(c.description))
		}
	}
	if c.scope != "" {
		b.WriteString(`, scope=`)
		b.WriteString(quote(c.scope))
	}
	w.Header().Set("WWW-Authenticate", b.String())
	body := errorBody{Error: c.errCode, Description: c.description}
	if extra != nil {
		body.Code, body.RequestID = extra.Code, extra.RequestID
	}
	return writeJSON(w, status, body)
}

// writeForbidden answers a 403 for a scope or claim rule that failed.
func writeForbidden(w http.ResponseWriter, r *http.Request, d policy.Decision) error {
	if d.Outcome == policy.InsufficientScope {
		return writeChallenge(w, r, http.StatusForbidden, challenge{
			errCode:     "insufficient_scope",
			description: "the token lacks a scope this route needs",
			inHeader:    true,
			scope:       strings.Join(d.Scopes, " "),
		})
	}
	return writeChallenge(w, r, http.StatusForbidden, challenge{
		errCode:     "access_denied",
		description: "the caller's claims do not allow this route",
		headerError: "insufficient_scope",
	})
}

// writeUnavailable answers 503 with Retry-After (at least one second).
func writeUnavailable(w http.ResponseWriter, errCode, description string, retryAfter time.Duration, extra *errorBody) error {
	secs := int((retryAfter + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	body := errorBody{Error: errCode, Description: description}
	if extra != nil {
		body.Code, body.RequestID = extra.Code, extra.RequestID
	}
	return writeJSON(w, http.StatusServiceUnavailable, body)
}

// writeJSONError answers status with an error body and no challenge.
func writeJSONError(w http.ResponseWriter, status int, body errorBody) error {
	return writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, body any) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(body)
}

// quote renders s as an RFC 9110 quoted-string, dropping control bytes so a
// hostile Host header cannot split the challenge.
func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x20 || c == 0x7f:
			continue
		case c == '"' || c == '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
	return b.String()
}
