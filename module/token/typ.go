package token

import (
	"fmt"
	"slices"
	"strings"
)

// Token types (JWS `typ` header values, RFC 7515 §4.1.9) in the
// normalised form Verifier compares: lower case, without the optional
// "application/" prefix. The empty string stands for a token without typ.
var (
	// DefaultTypes are the bearer types accepted when Rules.Types is nil:
	// untyped, JWT and RFC 9068 access tokens (at+jwt).
	DefaultTypes = []string{"", "jwt", "at+jwt"}
	// IDTokenTypes are accepted for ID tokens: untyped or JWT (OIDC Core
	// does not type them). at+jwt and logout+jwt are refused.
	IDTokenTypes = []string{"", "jwt"}
	// LogoutTokenTypes are accepted for back-channel logout tokens:
	// logout+jwt (OIDC Back-Channel Logout 1.0 §2.4), or untyped for
	// providers that do not type them yet.
	LogoutTokenTypes = []string{"", "logout+jwt"}
)

// neverBearer are types of JWTs that are never access tokens; a bearer
// allow-list may not name them.
var neverBearer = map[string]string{
	"logout+jwt":   "a back-channel logout token",
	"secevent+jwt": "a security event token",
	"dpop+jwt":     "a DPoP proof",
}

// NormalizeType returns the comparable form of a `typ` value: lower case
// (media types compare case-insensitively), with a leading "application/"
// removed (RFC 7515 §4.1.9: a value without a slash means
// application/<value>). Another top-level type keeps its slash, so it never
// equals an application type. ok is false for an empty value or characters
// outside RFC 6838's restricted names.
func NormalizeType(typ string) (string, bool) {
	t := strings.ToLower(typ)
	t = strings.TrimPrefix(t, "application/")
	if t == "" || len(t) > 255 || t[0] == '/' || t[len(t)-1] == '/' || strings.Count(t, "/") > 1 {
		return t, false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("!#$&-^_.+/", c) >= 0) {
			return t, false
		}
	}
	return t, true
}

// ValidateTypes checks a bearer `typ` allow-list for the configuration: ""
// stands for an untyped token; every other value must be a media type
// (with or without "application/"), and the types of logout tokens, DPoP
// proofs and security event tokens are refused.
func ValidateTypes(types []string) error {
	for _, typ := range types {
		if typ == "" {
			continue
		}
		n, ok := NormalizeType(typ)
		if !ok || strings.Contains(n, "/") {
			return fmt.Errorf("token_types: %q is not an application media type; list values such as JWT, at+jwt or application/at+jwt (and `absent` for untyped tokens)", typ)
		}
		if what, never := neverBearer[n]; never {
			return fmt.Errorf("token_types: %q is %s, never a bearer access token; remove it", typ, what)
		}
	}
	return nil
}

// normalizeTypes returns the normalised allow-list ("" kept as untyped);
// invalid entries are dropped, never allowed.
func normalizeTypes(types []string) []string {
	if types == nil {
		return DefaultTypes
	}
	out := make([]string, 0, len(types))
	for _, typ := range types {
		if typ == "" {
			out = append(out, "")
			continue
		}
		if n, ok := NormalizeType(typ); ok && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// checkType applies the verifier's `typ` allow-list to a parsed token.
func (v *Verifier) checkType(p *parsed) *Error {
	if !p.hasTyp {
		if slices.Contains(v.types, "") {
			return nil
		}
		return invalid(CodeWrongType, "token has no typ header")
	}
	n, ok := NormalizeType(p.typ)
	if !ok {
		return invalid(CodeMalformed, "malformed token: header typ is not a media type")
	}
	if slices.Contains(v.types, n) {
		return nil
	}
	if name := safeName(n); name != "" {
		return invalid(CodeWrongType, "token type "+name+" not accepted")
	}
	return invalid(CodeWrongType, "token type not accepted")
}

// IDTokenRules returns a provider's bearer rules adapted to its ID tokens:
// the audience is the client ID alone (whatever other audiences bearer
// tokens may carry), typ must be JWT or absent (IDTokenTypes), and an
// events claim is refused, so that neither an access token typed at+jwt
// nor a logout token passes as an ID token.
func IDTokenRules(bearer Rules, clientID string) Rules {
	r := bearer
	r.Audiences = []string{clientID}
	r.Types = IDTokenTypes
	r.EventTokens = false
	return r
}
