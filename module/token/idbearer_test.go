package token

import (
	"context"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// TestAcceptsIDTokensAgreesWithVerify: for each bearer configuration,
// AcceptsIDTokens says true exactly when a real signed ID token for the
// client (typ JWT, and untyped) passes Verify.
func TestAcceptsIDTokensAgreesWithVerify(t *testing.T) {
	const client = "gw-client"
	cases := []struct {
		name      string
		audiences []string
		types     []string
		want      bool
	}{
		{"defaults, audience the client", []string{client}, nil, true},
		{"at+jwt only", []string{client}, []string{"at+jwt"}, false},
		{"application/JWT spelled out", []string{client}, []string{"application/JWT"}, true},
		{"untyped only", []string{client}, []string{""}, true},
		{"API audience", []string{"https://api.example.com"}, nil, false},
		{"API audience and the client", []string{"https://api.example.com", client}, []string{"at+jwt"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rules := testRules()
			rules.Audiences, rules.Types = c.audiences, c.types
			v := NewVerifier("p", rules, newKeySource())
			if got := v.AcceptsIDTokens(client); got != c.want {
				t.Fatalf("AcceptsIDTokens = %v, want %v", got, c.want)
			}
			passes := false
			for _, typed := range []bool{true, false} {
				claims := baseClaims()
				claims["aud"], claims["azp"], claims["nonce"] = client, client, "n-1"
				tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
				tok.Header["kid"] = "rsa"
				if !typed {
					delete(tok.Header, "typ")
				}
				raw, err := tok.SignedString(getKeys().rsa)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := v.Verify(context.Background(), raw); err == nil {
					passes = true
				}
			}
			if passes != c.want {
				t.Fatalf("an ID token passes Verify: %v; AcceptsIDTokens says %v", passes, c.want)
			}
		})
	}
}
