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

// ClaimRule demands that the caller's claim Claim match one of Values on
// Paths. For an array claim, one element matching one of Values suffices.
//
// Values are patterns (identity.Pattern): `*` any run of characters, `?` one
// character, `\*`, `\?` and `\\` the literal characters; a value without
// wildcards must equal the raw claim exactly. A rule on the `email` claim is
// an e-mail rule (identity.EmailPattern): each value is `<local>@<domain>`
// such as `*@example.com` or `*@*.example.com`, compared with ASCII letters case-insensitive,
// against an `email` claim that is one well-formed address; and, unless
// AllowUnverifiedEmail is set, `email_verified` must be true.
type ClaimRule struct {
	// Paths are Caddy path matcher patterns, such as "/billing/*".
	Paths []string `json:"paths,omitempty"`
	// Claim is a claim name or a dotted path into nested claims.
	Claim string `json:"claim,omitempty"`
	// Values are the accepted values, as patterns.
	Values []string `json:"values,omitempty"`
	// AllowUnverifiedEmail lets an e-mail rule (Claim "email") accept an
	// address whose `email_verified` claim is absent or false. Only for
	// providers that verify every address they issue but do not say so; any
	// other rule refuses it.
	AllowUnverifiedEmail bool `json:"allow_unverified_email,omitempty"`

	// match is the compiled form, set by New; a rule built by hand is
	// compiled each time it is used.
	match *claimMatcher
}

// Config holds the route rules of one handler.
type Config struct {
	// Public are path patterns that need no identity, unless a scope or
	// claim rule also matches the request.
	Public []string `json:"public,omitempty"`
	// Optional are path patterns where an identity is used when a valid
	// credential comes and not needed otherwise, unless a scope or claim
	// rule also matches the request. Public wins where both match.
	Optional []string `json:"optional,omitempty"`
	// Scopes are the scope rules; a request must satisfy all that match.
	Scopes []ScopeRule `json:"scopes,omitempty"`
	// Claims are the claim rules; a request must satisfy all that match.
	Claims []ClaimRule `json:"claims,omitempty"`
}
