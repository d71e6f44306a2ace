package token

import (
	"context"
	"testing"
)

func BenchmarkVerifyUncached(b *testing.B) {
	v := NewVerifier("p", testRules(), newKeySource())
	raw := signRSA(b, baseClaims())
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyCached(b *testing.B) {
	v := NewVerifier("p", testRules(), newKeySource())
	raw := signRSA(b, baseClaims())
	c := NewCache(0, 0)
	defer c.Stop()
	id, err := v.Verify(context.Background(), raw)
	if err != nil {
		b.Fatal(err)
	}
	c.Put(raw, id)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := c.Get(raw); !ok {
			b.Fatal("miss")
		}
	}
}
