package token

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/identity"
)

// testClock is a clock the test moves by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *testClock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }

// newTestCache returns a cache whose clock only moves when the test says so.
func newTestCache(t *testing.T, n int, ttl time.Duration) (*Cache, *testClock) {
	c := NewCache(n, ttl)
	t.Cleanup(c.Stop)
	clock := &testClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	c.now = clock.Now
	return c, clock
}

func TestCacheHitAndMiss(t *testing.T) {
	c, clock := newTestCache(t, 10, time.Minute)
	id := &identity.Identity{Subject: "u", Expiry: clock.Now().Add(time.Hour)}
	c.Put("tok-a", id)
	if got, ok := c.Get("tok-a"); !ok || got != id {
		t.Fatalf("Get(tok-a) = %v, %v", got, ok)
	}
	if _, ok := c.Get("tok-b"); ok {
		t.Fatal("hit for a token never stored")
	}
	if c.Len() != 1 {
		t.Fatalf("Len = %d", c.Len())
	}
	// The raw token is never a key.
	for k := range c.c.Items() {
		if len(k) != 32 || strings.Contains(k, "tok-a") {
			t.Fatalf("cache key %q is not a SHA-256", k)
		}
	}
	c.Flush()
	if _, ok := c.Get("tok-a"); ok || c.Len() != 0 {
		t.Fatal("Flush left entries")
	}
	c.Put("nil", nil)
	if c.Len() != 0 {
		t.Fatal("nil identity cached")
	}
}

func TestCacheExpiry(t *testing.T) {
	c, clock := newTestCache(t, 10, time.Minute)
	// Expiry is re-checked against the clock on Get.
	c.Put("tok", &identity.Identity{Expiry: clock.Now().Add(time.Hour)})
	clock.Advance(2 * time.Hour)
	if _, ok := c.Get("tok"); ok {
		t.Fatal("hit after the identity's expiry")
	}
	// Already expired: not stored.
	c.Put("old", &identity.Identity{Expiry: clock.Now().Add(-time.Second)})
	if c.Len() != 0 {
		t.Fatal("expired identity stored")
	}

	// maxTTL bounds the lifetime even when exp is far away.
	short, clock := newTestCache(t, 10, 30*time.Second)
	short.Put("tok", &identity.Identity{Expiry: clock.Now().Add(time.Hour)})
	clock.Advance(29 * time.Second)
	if _, ok := short.Get("tok"); !ok {
		t.Fatal("miss before maxTTL")
	}
	short.Put("later", &identity.Identity{Expiry: clock.Now().Add(time.Hour)})
	clock.Advance(time.Second)
	if _, ok := short.Get("tok"); ok {
		t.Fatal("hit after maxTTL")
	}
	// The sweep removes entries whose stay has ended, and only those.
	short.Put("tok", &identity.Identity{Expiry: clock.Now().Add(time.Hour)})
	clock.Advance(29 * time.Second)
	short.deleteExpired()
	if short.Len() != 1 {
		t.Fatalf("after the sweep Len = %d, want 1 (only the entry put last)", short.Len())
	}
	if _, ok := short.Get("tok"); !ok {
		t.Fatal("the sweep removed a live entry")
	}
}

func TestCacheCap(t *testing.T) {
	c, clock := newTestCache(t, 2, time.Hour)
	far := clock.Now().Add(time.Hour)
	c.Put("a", &identity.Identity{Expiry: far})
	c.Put("b", &identity.Identity{Expiry: far})
	c.Put("c", &identity.Identity{Expiry: far})
	if c.Len() != 2 {
		t.Fatalf("Len = %d, want 2", c.Len())
	}
	if _, ok := c.Get("c"); ok {
		t.Fatal("inserted past the cap")
	}
	// An expired entry makes room, but full sweeps run at most once per
	// minFullSweepInterval: the refused Put above just ran one.
	c.Flush()
	c.Put("a", &identity.Identity{Expiry: clock.Now().Add(20 * time.Millisecond)})
	c.Put("b", &identity.Identity{Expiry: far})
	clock.Advance(30 * time.Millisecond)
	c.Put("c", &identity.Identity{Expiry: far})
	if _, ok := c.Get("c"); ok {
		t.Fatal("a second full sweep ran within minFullSweepInterval")
	}
	clock.Advance(minFullSweepInterval)
	c.Put("c", &identity.Identity{Expiry: far})
	if _, ok := c.Get("c"); !ok {
		t.Fatal("full cache with an expired entry did not make room")
	}
	if _, ok := c.Get("b"); !ok {
		t.Fatal("live entry evicted")
	}
}

func TestCacheStop(t *testing.T) {
	c := NewCache(0, 0)
	if c.max != DefaultCacheEntries || c.maxTTL != DefaultCacheTTL {
		t.Fatalf("defaults: %d, %v", c.max, c.maxTTL)
	}
	done := make(chan struct{})
	go func() { c.Stop(); c.Stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Stop blocked")
	}
	select {
	case <-c.done:
	default:
		t.Fatal("sweep goroutine still running after Stop")
	}
	// Still usable without the sweep.
	c.Put("x", &identity.Identity{Expiry: time.Now().Add(time.Hour)})
	if _, ok := c.Get("x"); !ok {
		t.Fatal("cache unusable after Stop")
	}
}
