package token

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkNewTokenPath is what the load tool's scenario 2 asks of this
// package per request: a token never seen before, looked up (a miss),
// verified and cached, with the cache filling up as in a real run (the
// tokens differ in jti and are signed beforehand). Against
// BenchmarkVerifyUncached (one token verified over and over) it shows what
// distinct tokens and a growing cache add: the lookup and the insert, and
// the garbage collector marking the cached identities. get-verify-offer is
// the same stream as the gateway handles it: a token used once is not
// stored (Cache.Offer).
func BenchmarkNewTokenPath(b *testing.B) {
	const distinct = 4000
	raws := make([]string, distinct)
	for i := range raws {
		c := baseClaims()
		c["jti"] = fmt.Sprint("id-", i)
		raws[i] = signRSA(b, c)
	}
	v := NewVerifier("p", testRules(), newKeySource())
	ctx := context.Background()
	b.Run("verify-only", func(b *testing.B) {
		b.ReportAllocs()
		defer cpuPerOp(b)()
		i := 0
		for b.Loop() {
			if _, err := v.Verify(ctx, raws[i%distinct]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("get-verify-put", func(b *testing.B) {
		c := NewCache(0, 0)
		defer c.Stop()
		b.ReportAllocs()
		defer cpuPerOp(b)()
		i := 0
		for b.Loop() {
			raw := raws[i%distinct]
			if i%distinct == 0 {
				c.Flush() // every token is new again
			}
			if _, ok := c.Get(raw); ok {
				b.Fatal("hit")
			}
			id, err := v.Verify(ctx, raw)
			if err != nil {
				b.Fatal(err)
			}
			c.Put(raw, id)
			i++
		}
	})
	// What the gateway does since tokens are cached on their second
	// sight: one hash for the lookup and the offer, and a first offer only
	// marks the token as seen.
	b.Run("get-verify-offer", func(b *testing.B) {
		c := NewCache(0, 0)
		defer c.Stop()
		b.ReportAllocs()
		defer cpuPerOp(b)()
		i := 0
		for b.Loop() {
			raw := raws[i%distinct]
			if i%distinct == 0 {
				c.Flush() // every token is new again
			}
			k := KeyOf(raw)
			if _, ok := c.Lookup(&k); ok {
				b.Fatal("hit")
			}
			id, err := v.Verify(ctx, raw)
			if err != nil {
				b.Fatal(err)
			}
			if c.Offer(&k, id) {
				b.Fatal("stored on first sight")
			}
			i++
		}
	})
}
