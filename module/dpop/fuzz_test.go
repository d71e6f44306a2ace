package dpop

import (
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzParse: the proof parser never panics, and whatever it accepts has a
// key that fits its algorithm and the claims Check relies on.
func FuzzParse(f *testing.F) {
	k := ecKey(f)
	req := Request{Method: "GET", URL: "https://api.example/x", AccessToken: "t"}
	h, c := proofParts(k, req, "seed")
	f.Add(sign(f, jwt.SigningMethodES256, k, h, c))
	f.Add("eyJ0eXAiOiJkcG9wK2p3dCJ9.e30.")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, raw string) {
		p, e := parse(raw, 0, nil)
		if (p == nil) == (e == nil) {
			t.Fatalf("parse returned %v and %v", p, e)
		}
		if p == nil {
			return
		}
		if !fits(p.Key, p.Alg) || p.JTI == "" || len(p.JTI) > maxJTILen {
			t.Fatalf("accepted an inconsistent proof: alg %q jti %d bytes", p.Alg, len(p.JTI))
		}
	})
}

// FuzzNormalizeHTU: normalisation never panics and is idempotent, so a
// proof's htu and the request URL meet in one form.
func FuzzNormalizeHTU(f *testing.F) {
	for _, s := range []string{"https://a.example/x/../y?z", "http://A:80/%7e%2F", "https://[::1]/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		n, err := NormalizeHTU(raw)
		if err != nil {
			return
		}
		again, err := NormalizeHTU(n)
		if err != nil || again != n {
			t.Fatalf("not idempotent: %q -> %q -> %q (%v)", raw, n, again, err)
		}
	})
}
