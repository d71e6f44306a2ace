package whoami

import (
	"net/http"
	"time"

	"github.com/edgeauth/caddy-edgeauth/assertion"
)

// AssertionResult is what whoami found when checking the gateway's signed
// identity assertion (Options.Assertion). It never holds the assertion or
// any unverified part of it.
type AssertionResult struct {
	// Verified reports whether the assertion verified.
	Verified bool `json:"verified"`
	// Status is "assertion verified" or "assertion not verified: <why>"
	// (the reason is the assertion package's fixed text).
	Status string `json:"status"`
	// Subject, Provider, Scopes and ExpiresAt come from a verified
	// assertion only.
	Subject   string    `json:"subject,omitempty"`
	Provider  string    `json:"provider,omitempty"`
	Scopes    []string  `json:"scopes,omitempty"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// checkAssertion verifies the assertion header of r with opts.Assertion.
func checkAssertion(r *http.Request, opts Options) *AssertionResult {
	id, err := opts.Assertion.VerifyRequest(r, opts.assertionHeader())
	if err != nil {
		return &AssertionResult{Status: "assertion not verified: " + err.Error()}
	}
	return &AssertionResult{
		Verified:  true,
		Status:    "assertion verified",
		Subject:   id.Subject,
		Provider:  id.Provider,
		Scopes:    id.Scopes,
		ExpiresAt: id.ExpiresAt,
	}
}

func (o Options) assertionHeader() string {
	if o.AssertionHeader != "" {
		return http.CanonicalHeaderKey(o.AssertionHeader)
	}
	return assertion.DefaultHeader
}
