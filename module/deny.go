package edgeauth

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/edgeauth/caddy-edgeauth/module/decision"
)

// The placeholders a refusal sets, for handle_errors routes (README, "Your
// own error pages"). Values are fixed codes or the gateway's own prose, never
// request data, and safe to place in JSON strings and HTML as they are.
const (
	// PlaceholderError is the body's `error`: the RFC 6750 error code
	// (invalid_token, insufficient_scope …) or edgeauth's own
	// (access_denied, sts_unavailable …).
	PlaceholderError = "http.auth.error"
	// PlaceholderErrorDescription is the body's `error_description`.
	PlaceholderErrorDescription = "http.auth.error_description"
	// PlaceholderReason is the decision reason, as in the decision log and
	// the caddy_edgeauth_decisions_total metric (no_credential,
	// claim_mismatch …).
	PlaceholderReason = "http.auth.reason"
	// PlaceholderRequiredScopes is the scopes a 403 insufficient_scope
	// lacks, space-separated, as in the challenge's scope="…".
	PlaceholderRequiredScopes = "http.auth.required_scopes"
	// PlaceholderSTSCode is the STS error code of an STS refusal.
	PlaceholderSTSCode = "http.auth.sts.code"
	// PlaceholderSTSRequestID is the STS request ID of an STS refusal.
	PlaceholderSTSRequestID = "http.auth.sts.request_id"
)

// denial is one refusal: its status, the WWW-Authenticate and Retry-After
// headers, the JSON body (or browser page) edgeauth writes by default, and
// what a handle_errors route sees through placeholders.
type denial struct {
	status     int
	reason     decision.Reason
	challenge  string        // WWW-Authenticate; "" for none
	challenge2 string        // a second WWW-Authenticate field (DPoP and Bearer); "" for none
	dpopNonce  string        // DPoP-Nonce header (RFC 9449 §8); "" for none
	retryAfter time.Duration // > 0 on a 503: Retry-After, rounded up to seconds
	body       errorBody
	scopes     []string // the scopes an insufficient_scope lacks
	page       bool     // a browser navigation: the default is an HTML page
}

// Error is the description, Caddy's {http.error.message}.
func (d *denial) Error() string {
	if d.body.Description != "" {
		return d.body.Description
	}
	return d.body.Error
}

// refuse answers a refusal the way Caddy's own handlers do: the challenge
// and Retry-After headers and the placeholders are set, then the refusal is
// returned as a caddyhttp.Error for a handle_errors route to render. When no
// handle_errors route would take it (none configured, or none matching),
// Caddy would answer with an empty body; edgeauth writes its own JSON body
// (or browser page) instead and returns nil. See errorroutes.go for why the
// choice is made here and not left to Caddy.
func refuse(w http.ResponseWriter, r *http.Request, d *denial) error {
	h := w.Header()
	if d.challenge != "" {
		h.Set("WWW-Authenticate", d.challenge)
	}
	if d.challenge2 != "" {
		h.Add("WWW-Authenticate", d.challenge2)
	}
	if d.dpopNonce != "" {
		h.Set("DPoP-Nonce", d.dpopNonce)
	}
	if d.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((d.retryAfter+time.Second-1)/time.Second)))
	}
	// A refusal is never cached, whoever renders it.
	h.Set("Cache-Control", "no-store")
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		d.provide(repl)
	}
	herr := caddyhttp.Error(d.status, d)
	if errorRoutesTake(r, herr) {
		return herr
	}
	if d.page {
		return forbiddenPage(w, d.scopes)
	}
	return writeJSON(w, d.status, d.body)
}

// provide sets the refusal's placeholders.
func (d *denial) provide(repl *caddy.Replacer) {
	repl.Set(PlaceholderError, placeholderText(d.body.Error))
	repl.Set(PlaceholderErrorDescription, placeholderText(d.body.Description))
	repl.Set(PlaceholderReason, d.reason.String())
	repl.Set(PlaceholderRequiredScopes, placeholderText(strings.Join(d.scopes, " ")))
	repl.Set(PlaceholderSTSCode, identifierText(d.body.Code))
	repl.Set(PlaceholderSTSRequestID, identifierText(d.body.RequestID))
}

// identifierText keeps only the characters an STS error code or request ID
// is made of ([A-Za-z0-9._-], at most 128): they are the STS's words, and
// braces or other punctuation in them must never reach an operator's page,
// where a `templates` handler would run them as a template.
func identifierText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < 128; i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// placeholderText keeps a value safe to drop into a JSON string, an HTML
// page or a header as it is: printable ASCII without double quotes,
// backslash, angle brackets, ampersand or backtick, at most 300 bytes. The values are
// the gateway's own codes and prose, so this only matters for STS codes and
// request IDs (the STS's words) and as a guard for the future.
func placeholderText(s string) string {
	const maxLen = 300
	clean := true
	for i := 0; i < len(s); i++ {
		if !placeholderByte(s[i]) {
			clean = false
			break
		}
	}
	if clean && len(s) <= maxLen {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < maxLen; i++ {
		if placeholderByte(s[i]) {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func placeholderByte(c byte) bool {
	if c < 0x20 || c >= 0x7f {
		return false
	}
	switch c {
	case '"', '\\', '<', '>', '&', '`':
		return false
	}
	return true
}
