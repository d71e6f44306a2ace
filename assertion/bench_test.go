package assertion

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkVerify is the cost of one Verify with loaded keys, per
// algorithm (what a backend pays per request without a cache of its own).
func BenchmarkVerify(b *testing.B) {
	for _, alg := range DefaultAlgorithms {
		b.Run(alg, func(b *testing.B) {
			k := newTestKey(b, "k", alg)
			g := newGateway(b, k)
			clk := newClock()
			v := newTestVerifier(b, g, clk)
			tok := sign(b, k, claimsAt(g.URL(), clk.now()))
			ctx := context.Background()
			if _, err := v.Verify(ctx, tok); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRefusedBeforeSignature is the cost of refusing a forged
// assertion with an unknown kid during the cooldown, or an oversized one.
func BenchmarkRefusedBeforeSignature(b *testing.B) {
	k := newTestKey(b, "k", "ES256")
	g := newGateway(b, k)
	clk := newClock()
	v := newTestVerifier(b, g, clk)
	bogus := sign(b, newTestKey(b, "bogus", "ES256"), claimsAt(g.URL(), clk.now()))
	ctx := context.Background()
	_, _ = v.Verify(ctx, bogus) // load + the one refetch
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := v.Verify(ctx, bogus); err == nil {
			b.Fatal("accepted")
		}
	}
}

// BenchmarkMiddleware is one request through Require with an ES256
// assertion.
func BenchmarkMiddleware(b *testing.B) {
	k := newTestKey(b, "k", "ES256")
	g := newGateway(b, k)
	clk := newClock()
	v := newTestVerifier(b, g, clk)
	h := v.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set(DefaultHeader, sign(b, k, claimsAt(g.URL(), clk.now())))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}

// BenchmarkDecodeClaims is the strict JSON reading of a gateway-shaped
// claim set (validation, members, duplicate scan).
func BenchmarkDecodeClaims(b *testing.B) {
	c := claimsAt("https://gw.example.com", newClock().now())
	c["cnf"] = map[string]string{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}
	raw, _ := json.Marshal(c)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := decodeObject(raw); err != nil {
			b.Fatal(err)
		}
	}
}
