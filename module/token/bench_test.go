package token

import (
	"context"
	"fmt"
	"strings"
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

// BenchmarkCacheGetParallel is the cached path with every CPU reading the
// same entry, as under load with one hot token: it shows contention on the
// cache's lock.
func BenchmarkCacheGetParallel(b *testing.B) {
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
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := c.Get(raw); !ok {
				b.Error("miss")
				return
			}
		}
	})
}

// BenchmarkParse is the structural part of a first verification: size and
// shape checks, header and claims decoding (no signature check).
func BenchmarkParse(b *testing.B) {
	raw := signRSA(b, baseClaims())
	b.ReportAllocs()
	for b.Loop() {
		if _, e := parse(raw, DefaultMaxTokenSize); e != nil {
			b.Fatal(e)
		}
	}
}

// BenchmarkCachePutDistinct is what scenario 2 of the load tool does to the
// cache: every request caches a new token.
func BenchmarkCachePutDistinct(b *testing.B) {
	v := NewVerifier("p", testRules(), newKeySource())
	id, err := v.Verify(context.Background(), signRSA(b, baseClaims()))
	if err != nil {
		b.Fatal(err)
	}
	c := NewCache(0, 0)
	defer c.Stop()
	raws := make([]string, 4096)
	for i := range raws {
		raws[i] = fmt.Sprintf("token-%d-%s", i, strings.Repeat("x", 800))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.Put(raws[i%len(raws)], id)
		i++
	}
}
