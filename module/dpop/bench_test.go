package dpop

import (
	"strconv"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// BenchmarkCheckES256 is the per-request cost of a fresh ES256 proof:
// parse, signature, thumbprint, ath and the memory replay store. The proofs
// are signed before the timer starts.
func BenchmarkCheckES256(b *testing.B) {
	k := ecKey(b)
	req := Request{Method: "GET", URL: "https://api.example/res", AccessToken: "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln", JKT: Thumbprint(&k.PublicKey)}
	proofs := make([]string, b.N)
	for i := range proofs {
		h, c := proofParts(k, req, "jti-"+strconv.Itoa(i))
		proofs[i] = sign(b, jwt.SigningMethodES256, k, h, c)
	}
	c := newTestChecker(b, nil)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, e := c.Check(bg, proofs[i], req); e != nil {
			b.Fatal(e)
		}
	}
}

// BenchmarkParse is the parsing part alone.
func BenchmarkParse(b *testing.B) {
	k := ecKey(b)
	req := Request{Method: "GET", URL: "https://api.example/res", AccessToken: "t"}
	h, c := proofParts(k, req, "jti")
	proof := sign(b, jwt.SigningMethodES256, k, h, c)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, e := Parse(proof, 0); e != nil {
			b.Fatal(e)
		}
	}
}
