// Package policy maps request paths to what the caller must have: nothing
// (public), scopes, or claim values. Paths are matched by Caddy's own path
// matcher, so a rule sees exactly the cleaned, case-insensitive path that
// Caddy routes on.
package policy

// ScopeRule demands that a caller be granted every one of Scopes on Paths.
type ScopeRule struct {
	// Paths are Caddy path matcher patterns, such as "/admin/*".
	Paths []string `json:"paths,omitempty"`
	// Scopes must all be granted.
	Scopes []string `json:"scopes,omitempty"`
}

// ClaimRule demands that the caller's claim Claim equal one of Values on
// Paths. For an array claim, one element equal to one of Values suffices.
type ClaimRule struct {
	// Paths are Caddy path matcher patterns, such as "/billing/*".
	Paths []string `json:"paths,omitempty"`
	// Claim is a claim name or a dotted path into nested claims.
	Claim string `json:"claim,omitempty"`
	// Values are the accepted values.
	Values []string `json:"values,omitempty"`
}

// Config holds the route rules of one handler.
type Config struct {
	// Public are path patterns that need no identity, unless a scope or
	// claim rule also matches the request.
	Public []string `json:"public,omitempty"`
	// Scopes are the scope rules; a request must satisfy all that match.
	Scopes []ScopeRule `json:"scopes,omitempty"`
	// Claims are the claim rules; a request must satisfy all that match.
	Claims []ClaimRule `json:"claims,omitempty"`
}
