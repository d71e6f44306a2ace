package edgeauth

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/decision"
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

// challengeDenial is a refusal with a `WWW-Authenticate: Bearer` challenge
// whose realm is the request's host. extra, when set, adds the STS code and
// request ID to the body.
func challengeDenial(r *http.Request, status int, reason decision.Reason, c challenge, extra *errorBody) *denial {
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
	d := jsonDenial(status, reason, errorBody{Error: c.errCode, Description: c.description}, extra)
	d.challenge = b.String()
	return d
}

// forbiddenDenial is the 403 for a scope or claim rule that failed.
func forbiddenDenial(r *http.Request, reason decision.Reason, d policy.Decision) *denial {
	if d.Outcome == policy.InsufficientScope {
		den := challengeDenial(r, http.StatusForbidden, reason, challenge{
			errCode:     "insufficient_scope",
			description: "the token lacks a scope this route needs",
			inHeader:    true,
			scope:       strings.Join(d.Scopes, " "),
		}, nil)
		den.scopes = d.Scopes
		return den
	}
	return challengeDenial(r, http.StatusForbidden, reason, challenge{
		errCode:     "access_denied",
		description: "the caller's claims do not allow this route",
		headerError: "insufficient_scope",
	}, nil)
}

// unavailableDenial is a 503 with Retry-After (at least one second).
func unavailableDenial(reason decision.Reason, errCode, description string, retryAfter time.Duration, extra *errorBody) *denial {
	d := jsonDenial(http.StatusServiceUnavailable, reason, errorBody{Error: errCode, Description: description}, extra)
	d.retryAfter = max(retryAfter, time.Second)
	return d
}

// jsonDenial is a refusal with a JSON error body and no challenge; extra,
// when set, adds the STS code and request ID to the body.
func jsonDenial(status int, reason decision.Reason, body errorBody, extra *errorBody) *denial {
	if extra != nil {
		body.Code, body.RequestID = extra.Code, extra.RequestID
	}
	return &denial{status: status, reason: reason, body: body}
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
