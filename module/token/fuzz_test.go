package token

import (
	"context"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzVerify checks that no input makes verification panic, that only
// correctly signed tokens pass, and that failures are *Error values.
func FuzzVerify(f *testing.F) {
	k := getKeys()
	valid := sign(f, jwt.SigningMethodRS256, k.rsa, "rsa", baseClaims(), nil)
	es := sign(f, jwt.SigningMethodES256, k.p256, "p256", baseClaims(), nil)
	ed := sign(f, jwt.SigningMethodEdDSA, k.ed, "", baseClaims(), nil)
	parts := strings.Split(valid, ".")
	for _, s := range []string{
		valid, es, ed,
		"", ".", "..", "...", "a.b.c", valid + ".",
		parts[0] + "." + parts[1] + ".",
		"eyJhbGciOiJub25lIn0.e30.",
		"eyJhbGciOiJIUzI1NiJ9.e30.c2ln",
		"e30.e30.e30",
		"bnVsbA.bnVsbA.bnVsbA",
		"W10.W10.W10",
		parts[0] + ".eyJleHAiOjFlOTk5OTl9." + parts[2],
		parts[0] + ".eyJleHAiOiIxIiwiYXVkIjpbbnVsbF19." + parts[2],
		strings.Repeat("A", 100) + "." + strings.Repeat("B", 100) + "." + strings.Repeat("C", 100),
	} {
		f.Add(s)
	}
	rules := testRules()
	rules.Algorithms = SupportedAlgorithms
	v := NewVerifier("p", rules, newKeySource())
	s := NewSelector(v)
	f.Fuzz(func(t *testing.T, raw string) {
		for _, verify := range []func(context.Context, string) (any, error){
			func(ctx context.Context, r string) (any, error) { return v.Verify(ctx, r) },
			func(ctx context.Context, r string) (any, error) { return s.Verify(ctx, r) },
		} {
			id, err := verify(context.Background(), raw)
			if err != nil {
				if _, ok := err.(*Error); !ok {
					t.Fatalf("error %v is %T, want *Error", err, err)
				}
				continue
			}
			if id == nil {
				t.Fatal("nil identity without error")
			}
		}
	})
}
