package token

import (
	"crypto/sha256"
	"testing"

	"github.com/edgeauth/caddy-edgeauth/module/identity"
)

// getCopying is Cache.Get without unsafe: the token is copied to hash it
// and the key is built as a string, as the safe conversions do.
func getCopying(c *Cache, raw string) (*identity.Identity, bool) {
	sum := sha256.Sum256([]byte(raw))
	v, ok := c.c.Get(string(sum[:]))
	if !ok {
		return nil, false
	}
	e := v.(cacheEntry)
	if !c.now().Before(e.until) {
		return nil, false
	}
	return e.id, true
}

// BenchmarkCacheGetUnsafe measures what the two unsafe conversions in
// Cache.Get (hashing the token's bytes in place, looking the key up
// without copying it) save on every cached request, against getCopying.
// They are kept because this shows they pay (see cache.go).
func BenchmarkCacheGetUnsafe(b *testing.B) {
	raw := signRSA(b, baseClaims())
	c := NewCache(0, 0)
	defer c.Stop()
	c.Put(raw, &identity.Identity{})
	for _, get := range []struct {
		name string
		fn   func(*Cache, string) (*identity.Identity, bool)
	}{{"unsafe", (*Cache).Get}, {"copying", getCopying}} {
		b.Run(get.name, func(b *testing.B) {
			b.ReportAllocs()
			defer cpuPerOp(b)()
			for b.Loop() {
				if _, ok := get.fn(c, raw); !ok {
					b.Fatal("miss")
				}
			}
		})
	}
}
