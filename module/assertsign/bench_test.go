package assertsign

import (
	"context"
	"testing"

	"github.com/edgeauth/caddy-edgeauth/module/identity"
)

func benchIdentity() *identity.Identity {
	return &identity.Identity{Provider: "corp", Subject: "1000000000000001", Issuer: "https://idp.example.com",
		Scopes: []string{"openid", "profile", "aliuid"},
		Claims: map[string]any{"scope": "openid profile aliuid", "aid": "1000000000000000", "uid": "2000", "type": "user",
			"login_name": "alice", "upn": "alice@corp", "name": "Alice"}}
}

// BenchmarkAssertionCached is the path of a repeated caller: the claims are
// collected and the cached assertion is found.
func BenchmarkAssertionCached(b *testing.B) {
	s := testSigner(b, Config{Issuer: testIssuer}, b.TempDir(), nil, nil)
	id := benchIdentity()
	mustAssertion(b, s, ClaimsFor(id, "https://app.example.com", ""))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Assertion(context.Background(), ClaimsFor(id, "https://app.example.com", "")); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAssertionUncached signs every time (a new audience each
// request), per algorithm.
func BenchmarkAssertionUncached(b *testing.B) {
	for _, alg := range []string{ES256, EdDSA, RS256} {
		b.Run(alg, func(b *testing.B) {
			s := testSigner(b, Config{Issuer: testIssuer, Algorithm: alg}, b.TempDir(), nil, nil)
			id := benchIdentity()
			mustAssertion(b, s, ClaimsFor(id, "warm", ""))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c := ClaimsFor(id, "https://app.example.com", "")
				c.Scope = string(rune(i)) // a claim set never seen
				k, _ := s.current(context.Background())
				if _, err := s.sign(k.signing, c, s.now()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
