package token

import (
	"slices"
	"strings"
)

// checkAnswerBinding applies the rules that tie a provider's answer about an
// opaque token to this gateway:
//
//   - `aud`, when stated, must contain one of the accepted values (the
//     provider's audiences, default its client ID) — the rule for JWTs;
//   - otherwise `client_id` and `azp`, each when stated, must be one of them;
//   - an introspection answer that states none of the three is refused
//     (nothing ties the token to this gateway); a userinfo answer that
//     states none is accepted — the documented limit of userinfo mode;
//   - `token_type`, when stated, must name an access token (a refresh token
//     is `active` too); `DPoP` (RFC 9449 §6.2) only with a `cnf` claim. A
//     sender-constrained answer (`cnf.jkt`, `cnf["x5t#S256"]`) binds the
//     token like a JWT's cnf: the gateway checks the DPoP proof or client
//     certificate on every request (the glue's binding.go).
//
// Values are compared raw; a member of the wrong JSON type is refused.
func checkAnswerBinding(claims map[string]any, accepted []string, mode OpaqueMode) *Error {
	_, bound := claims["cnf"]
	if v, present := claims["token_type"]; present && !isAccessTokenType(v) && !(bound && isDPoPTokenType(v)) {
		return &Error{Kind: Invalid, Code: CodeWrongType, Description: "not an access token"}
	}
	other := &Error{Kind: Invalid, Code: CodeAudienceNotAccepted, Description: "token was issued to another client"}
	malformed := &Error{Kind: Invalid, Code: CodeInvalidClaim, Description: "invalid audience or client in the provider's answer"}
	if v, present := claims["aud"]; present {
		auds, ok := stringOrStrings(v)
		if !ok {
			return malformed
		}
		for _, a := range auds {
			if slices.Contains(accepted, a) {
				return nil
			}
		}
		return other
	}
	stated := false
	for _, name := range []string{"client_id", "azp"} {
		v, present := claims[name]
		if !present {
			continue
		}
		s, ok := v.(string)
		if !ok {
			return malformed
		}
		if !slices.Contains(accepted, s) {
			return other
		}
		stated = true
	}
	if !stated && mode == OpaqueIntrospection {
		return &Error{Kind: Invalid, Code: CodeAudienceNotAccepted, Description: "the provider's answer names no audience or client"}
	}
	return nil
}

// stringOrStrings reads a claim that is a string or an array of strings; an
// empty array or any other shape is malformed.
func stringOrStrings(v any) ([]string, bool) {
	switch x := v.(type) {
	case string:
		return []string{x}, true
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, len(out) > 0
	}
	return nil, false
}

// isAccessTokenType reports whether a stated token_type (optional in RFC
// 7662) allows the token as a bearer access token: a refresh token, for
// instance, is active too, but is no credential for an API call. (A DPoP
// token is accepted by isDPoPTokenType when its answer has a cnf.)
func isAccessTokenType(v any) bool {
	t, ok := v.(string)
	if !ok {
		return false
	}
	switch strings.ToLower(t) {
	case "bearer", "access_token", "urn:ietf:params:oauth:token-type:access_token", "n_a":
		return true
	}
	return false
}

// isDPoPTokenType reports whether a stated token_type is RFC 9449's `DPoP`
// (case-insensitive, as token types are).
func isDPoPTokenType(v any) bool {
	t, ok := v.(string)
	return ok && strings.EqualFold(t, "DPoP")
}
