package token

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/identity"
)

func newTestCache(t *testing.T, n int, ttl time.Duration) (*Cache, *time.Time) {
	c := NewCache(n, ttl)
	t.Cleanup(c.Stop)
	now := time.Now()
	var mu sync.Mutex
	c.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	return c, &now
}

func TestCacheHitAndMiss(t *testing.T) {
	c, now := newTestCache(t, 10, time.Minute)
	id := &identity.Identity{Subject: "u", Expiry: now.Add(time.Hour)}
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
	c, now := newTestCache(t, 10, time.Minute)
	// Expiry is re-checked against the clock on Get.
	c.Put("tok", &identity.Identity{Expiry: now.Add(time.Hour)})
	*now = now.Add(2 * time.Hour)
	if _, ok := c.Get("tok"); ok {
		t.Fatal("hit after the identity's expiry")
	}
	// Already expired: not stored.
	c.Put("old", &identity.Identity{Expiry: now.Add(-time.Second)})
	if c.Len() != 0 {
		t.Fatal("expired identity stored")
	}

	// maxTTL bounds the lifetime even when exp is far away (real time).
	short := NewCache(10, 30*time.Millisecond)
	defer short.Stop()
	short.Put("tok", &identity.Identity{Expiry: time.Now().Add(time.Hour)})
	if _, ok := short.Get("tok"); !ok {
		t.Fatal("miss right after Put")
	}
	time.Sleep(50 * time.Millisecond)
	if _, ok := short.Get("tok"); ok {
		t.Fatal("hit after maxTTL")
	}
	// ...and the sweep goroutine removes it.
	deadline := time.Now().Add(2 * time.Second)
	for short.Len() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if short.Len() != 0 {
		t.Fatal("sweep did not remove the expired entry")
	}
}

func TestCacheCap(t *testing.T) {
	c := NewCache(2, time.Hour)
	defer c.Stop()
	far := time.Now().Add(time.Hour)
	c.Put("a", &identity.Identity{Expiry: far})
	c.Put("b", &identity.Identity{Expiry: far})
	c.Put("c", &identity.Identity{Expiry: far})
	if c.Len() != 2 {
		t.Fatalf("Len = %d, want 2", c.Len())
	}
	if _, ok := c.Get("c"); ok {
		t.Fatal("inserted past the cap")
	}
	// An expired entry makes room (full sweeps are rate-limited to one per
	// second; forget the one the refused Put above just made).
	c.Flush()
	c.lastFullSweep.Store(0)
	c.Put("a", &identity.Identity{Expiry: time.Now().Add(20 * time.Millisecond)})
	c.Put("b", &identity.Identity{Expiry: far})
	time.Sleep(30 * time.Millisecond)
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
