package token

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"
)

// TestCacheMemoryBoundedByCap puts a million distinct verified identities
// through a cache at its default cap and checks that the live heap stays
// under the ceiling the README documents (about 3.5 KB per entry): the cap,
// not the number of tokens seen, bounds memory. Identities are copies of one
// real verified token with distinct raw tokens, so no signature is made a
// million times.
func TestCacheMemoryBoundedByCap(t *testing.T) {
	v := NewVerifier("p", testRules(), newKeySource())
	c := baseClaims()
	c["scope"] = "openid aliuid profile email"
	c["aid"], c["uid"], c["type"] = "1000000000000000", "2000000000000002", "user"
	c["name"], c["upn"], c["email"] = "Alice Liddell", "alice@example.onaliyun.com", "alice@example.com"
	raw := signRSA(t, c)
	template, err := v.Verify(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	cache := NewCache(0, 0)
	defer cache.Stop()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const tokens = 1_000_000
	for i := range tokens {
		distinct := fmt.Sprintf("%s.%07d", raw, i) // a distinct token of realistic size
		id := *template
		id.Token = distinct
		id.Claims = make(map[string]any, len(template.Claims))
		for k, val := range template.Claims {
			id.Claims[k] = val
		}
		cache.Put(distinct, &id)
		if i%100_000 == 0 {
			time.Sleep(time.Millisecond) // let the sweep run as it would under load
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if n := cache.Len(); n > DefaultCacheEntries {
		t.Fatalf("the cache holds %d entries, over its cap of %d", n, DefaultCacheEntries)
	}
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	ceiling := int64(DefaultCacheEntries) * 3584
	t.Logf("after %d distinct tokens: %d entries, live heap grew by %.1f MiB (ceiling %.1f MiB)", tokens, cache.Len(), float64(grown)/(1<<20), float64(ceiling)/(1<<20))
	if grown > ceiling {
		t.Fatalf("live heap grew by %d bytes for %d cached entries, over the documented ceiling of %d", grown, cache.Len(), ceiling)
	}
}
