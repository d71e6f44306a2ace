// Package logsafe makes text a remote server chose (an error description,
// an STS message) fit for the gateway's logs and errors: secrets it echoes
// are removed, control characters cannot forge log lines, length is capped.
package logsafe

import (
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Redacted stands where a secret was removed.
const Redacted = "[REDACTED]"

// Message makes a remote message fit for logs: it removes each secret if
// the server echoed it (whole, or a token's signature part alone), any other
// JWT-shaped text (a server may quote a token it holds, not the one sent),
// drops control characters and caps the length.
func Message(msg string, secrets ...string) string {
	for _, secret := range secrets {
		msg = redactSecret(msg, secret)
	}
	msg = jwtShaped.ReplaceAllString(msg, Redacted)
	msg = authCredential.ReplaceAllStringFunc(msg, func(m string) string {
		sub := authCredential.FindStringSubmatch(m)
		if !credentialLike(sub[2]) {
			return m // prose: "Basic authentication required"
		}
		return sub[1] + " " + Redacted
	})
	msg = strings.Map(func(r rune) rune {
		// Control characters, and the Unicode line and paragraph separators
		// and format characters (bidi overrides, zero-width marks): log
		// encoders write the latter as they are, and viewers break lines on
		// U+2028/U+2029 or reorder text on U+202E.
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Cf, r) {
			return ' '
		}
		return r
	}, msg)
	msg = strings.TrimSpace(msg)
	const maxLen = 300
	if len(msg) > maxLen {
		cut := maxLen
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	return msg
}

// jwtShaped matches a compact JWS or JWE: base64url parts joined by dots,
// the first starting like a JSON object ("eyJ").
var jwtShaped = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*(\.[A-Za-z0-9_-]*){2,4}`)

// authCredential matches an HTTP authorization credential a server quotes
// from the request (`Basic base64(id:secret)`, a `Bearer` or `DPoP` token);
// the scheme is kept, the credential removed.
var authCredential = regexp.MustCompile(`(?i)\b(basic|bearer|dpop)\s+([A-Za-z0-9._~+/=-]{8,})`)

// redactSecret removes secret from msg, and, for a token, its last
// dot-separated part (the signature) when that part alone is long enough to
// matter: an echo of the signature is as bad as one of the whole token.
func redactSecret(msg, secret string) string {
	const minLen = 4
	if len(secret) < minLen {
		return msg
	}
	msg = strings.ReplaceAll(msg, secret, Redacted)
	// A server that quotes the form it was sent echoes the secret
	// percent-encoded (any secret with + / = & %, e.g. a base64 one).
	for _, enc := range []string{url.QueryEscape(secret), url.PathEscape(secret)} {
		if enc != secret {
			msg = strings.ReplaceAll(msg, enc, Redacted)
		}
	}
	if i := strings.LastIndexByte(secret, '.'); i >= 0 && len(secret)-i-1 >= 16 {
		msg = strings.ReplaceAll(msg, secret[i+1:], Redacted)
	}
	return msg
}

// credentialLike tells a credential (it has a digit or a symbol, or mixes
// cases over 16 characters or more) from a word of prose.
func credentialLike(s string) bool {
	if strings.ContainsAny(s, "0123456789._~+/=-") {
		return true
	}
	return len(s) >= 16 && strings.ToLower(s) != s && strings.ToUpper(s) != s
}
