package fleet

import "testing"

// BenchmarkNearCacheLoadHit is Store.Load of a session held in the
// near-cache: open the cookie's sealed ID, hash it into the key, look up.
func BenchmarkNearCacheLoadHit(b *testing.B) {
	rs := &redisServer{startRedisB(b)}
	c, err := New(Config{Addrs: []string{rs.addr()}, KeyPrefix: "bench:"})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	st, err := NewStore(c, StoreConfig{Sealer: testSealer(b), Lifetime: 3600e9, NearCache: &NearCacheConfig{}})
	if err != nil {
		b.Fatal(err)
	}
	for !st.NearCacheStats().Current {
		sleepB()
	}
	s := testSession("https://op.example", "alice", "sid-b")
	r := saveB(b, st, s)
	if _, err := st.Load(r); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := st.Load(r); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if st.NearCacheStats().Misses > 1 {
		b.Fatalf("misses %d: the link was not current during the benchmark", st.NearCacheStats().Misses)
	}
}
