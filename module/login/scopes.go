package login

import (
	"slices"
	"strings"

	"github.com/edgeauth/caddy-edgeauth/module/token"
)

// grantedScopes returns the scopes a token answer grants and whether the
// answer says so at all: its `scope` member (RFC 6749 §5.1), or, when that
// is omitted and the access token is a JWT, its `scope`/`scp` claim (the
// token came straight from the token endpoint over TLS, so it is as
// trustworthy as the member). known is false when neither is there: then
// RFC 6749 §5.1 says the grant is the request, which the callers apply
// (a login: the scopes asked for; a refresh: the session's scopes).
func grantedScopes(tr *TokenResponse) (granted []string, known bool) {
	if strings.Trim(tr.Scope, " ") != "" {
		return token.SplitScopes(tr.Scope), true
	}
	return token.PeekScopes(tr.AccessToken)
}

// narrowed returns the scopes of have that granted keeps, in have's order:
// a refresh asks for no new scope (RFC 6749 §6), so its answer may narrow
// a session's scopes but never widen them.
func narrowed(have, granted []string) []string {
	out := make([]string, 0, len(have))
	for _, s := range have {
		if slices.Contains(granted, s) {
			out = append(out, s)
		}
	}
	return out
}
