// Package identity holds the verified caller and turns it into what the
// upstream sees: request headers and Caddy placeholders.
package identity

import "time"

// Identity is a caller whose credential has been verified.
//
// Claims holds every claim as decoded from JSON with numbers kept as
// json.Number, so that they can be exported in plain decimal.
type Identity struct {
	// Provider is the configured name of the provider that vouched for it.
	Provider string
	// Subject is the `sub` claim.
	Subject string
	// Issuer is the `iss` claim.
	Issuer string
	// Scopes are the granted scopes (from `scope`, `scp`, or the token response).
	Scopes []string
	// Claims are all claims of the token (or userinfo answer).
	Claims map[string]any
	// Expiry is when the credential stops being valid (zero: unknown).
	Expiry time.Time
	// Token is the raw credential that proved the identity (bearer JWT or the
	// session's ID token). It is needed for token exchange; never log it.
	Token string
	// Binding is set for a sender-constrained token (cnf.jkt or
	// cnf["x5t#S256"]); nil for a bearer token or a session.
	Binding *TokenBinding
}

// HasScopes reports whether every scope in need was granted.
func (id *Identity) HasScopes(need []string) bool {
	for _, n := range need {
		found := false
		for _, s := range id.Scopes {
			if s == n {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
