package token

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestExplainAgreesWithVerify: Explain's verdict is Verify's, the check
// that Verify stops at is among Explain's failures, a valid token passes
// every check, and no detail holds the token or a claim value.
func TestExplainAgreesWithVerify(t *testing.T) {
	ago := func(d time.Duration) int64 { return testNow.Add(-d).Unix() }
	cases := []struct {
		name   string
		claims func(jwt.MapClaims)
		hdr    map[string]any
		rules  func(*Rules)
		failed []string // names of the failing checks, in order
	}{
		{name: "valid"},
		{name: "expired", claims: func(c jwt.MapClaims) { c["exp"] = ago(time.Hour) }, failed: []string{"exp"}},
		{name: "wrong audience", claims: func(c jwt.MapClaims) { c["aud"] = "secret-app-name" }, failed: []string{"aud"}},
		{name: "expired and wrong audience", claims: func(c jwt.MapClaims) { c["exp"] = ago(time.Hour); c["aud"] = "x" }, failed: []string{"exp", "aud"}},
		{name: "not yet valid", claims: func(c jwt.MapClaims) { c["nbf"] = testNow.Add(time.Hour).Unix() }, failed: []string{"nbf"}},
		{name: "issued in the future", claims: func(c jwt.MapClaims) { c["iat"] = testNow.Add(time.Hour).Unix() }, failed: []string{"iat"}},
		{name: "too old", claims: func(c jwt.MapClaims) { c["iat"] = ago(3 * time.Hour) }, rules: func(r *Rules) { r.MaxTokenAge = time.Hour }, failed: []string{"max_token_age"}},
		{name: "logout token", claims: func(c jwt.MapClaims) { c["events"] = map[string]any{"e": map[string]any{}} }, hdr: map[string]any{"typ": "logout+jwt"}, failed: []string{"typ", "events"}},
		{name: "sub not a string", claims: func(c jwt.MapClaims) { c["sub"] = 5 }, failed: []string{"sub"}},
		{name: "algorithm not allowed", rules: func(r *Rules) { r.Algorithms = []string{"ES256"} }, failed: []string{"alg"}},
		{name: "unknown kid", hdr: map[string]any{"kid": "gone"}, failed: []string{"key"}},
		{name: "unknown issuer", claims: func(c jwt.MapClaims) { c["iss"] = "https://evil.example.com" }, failed: []string{"provider"}},
		{name: "duplicate member", claims: func(c jwt.MapClaims) { c["SUB"] = "other" }, failed: []string{"format"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, r := baseClaims(), testRules()
			if tc.claims != nil {
				tc.claims(c)
			}
			if tc.rules != nil {
				tc.rules(&r)
			}
			raw := sign(t, jwt.SigningMethodRS256, getKeys().rsa, "rsa", c, tc.hdr)
			s := NewSelector(NewVerifier("p", r, newKeySource()))
			_, verr := s.Verify(context.Background(), raw)
			e := s.Explain(context.Background(), raw)

			if (verr == nil) != (e.Err == nil) || (verr != nil && verr.Error() != e.Err.Error()) {
				t.Fatalf("Explain verdict %v, Verify %v", e.Err, verr)
			}
			var failed []string
			for _, ch := range e.Checks {
				if !ch.OK && !ch.Skipped {
					failed = append(failed, ch.Name)
				}
				if strings.Contains(ch.Detail, raw) || strings.Contains(ch.Detail, "secret-app-name") || strings.Contains(ch.Detail, "evil") {
					t.Errorf("check %s detail %q holds token data", ch.Name, ch.Detail)
				}
			}
			if strings.Join(failed, " ") != strings.Join(tc.failed, " ") {
				t.Fatalf("failing checks %v, want %v (checks %+v)", failed, tc.failed, e.Checks)
			}
			if verr != nil {
				stopped := false
				for _, ch := range e.Checks {
					if !ch.OK && !ch.Skipped && strings.HasPrefix(ch.Detail, verr.Error()) {
						stopped = true
					}
				}
				if !stopped && tc.failed[0] != "provider" {
					t.Errorf("no failing check says %q: %+v", verr, e.Checks)
				}
			} else if e.Identity == nil || e.Provider != "p" {
				t.Errorf("accepted token: identity %v, provider %q", e.Identity, e.Provider)
			}
		})
	}
}
