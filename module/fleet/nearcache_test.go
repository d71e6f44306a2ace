package fleet

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/session"
)

func nearSession(notAfter time.Time) *session.Session {
	return &session.Session{ID: session.NewID(), Subject: "alice", NotAfter: notAfter}
}

// TestNearCacheBoundsEntries: never more than MaxEntries sessions; the
// evictions are counted.
func TestNearCacheBoundsEntries(t *testing.T) {
	now := time.Now()
	c := newNearCache(3, 1<<30)
	for i := range 10 {
		k := fmt.Sprintf("test:session:%d", i)
		if !c.put(c.ticket(k), k, nearSession(now.Add(time.Hour)), 100, now.Add(time.Hour), now) {
			t.Fatalf("put %d refused", i)
		}
		if n, _ := c.size(); n > 3 {
			t.Fatalf("after %d puts the cache holds %d entries, bound is 3", i+1, n)
		}
	}
	if got := c.evictions.Load(); got != 7 {
		t.Errorf("%d evictions, want 7", got)
	}
	// The last one put is always there (room is made before it goes in).
	if _, ok := c.get("test:session:9", now); !ok {
		t.Error("the newest entry is missing")
	}
}

// TestNearCacheBoundsBytes: the estimated bytes stay within MaxBytes, and
// a value larger than the whole budget is not cached at all.
func TestNearCacheBoundsBytes(t *testing.T) {
	now := time.Now()
	const raw = 1000
	per := int64(len("test:session:0")+raw) + nearEntryOverhead
	c := newNearCache(1000, 4*per)
	for i := range 10 {
		k := fmt.Sprintf("test:session:%d", i)
		c.put(c.ticket(k), k, nearSession(now.Add(time.Hour)), raw, now.Add(time.Hour), now)
		if n, b := c.size(); b > 4*per || n > 4 {
			t.Fatalf("after %d puts: %d entries, %d bytes; bound %d bytes (4 entries)", i+1, n, b, 4*per)
		}
	}
	big := "test:session:big"
	if c.put(c.ticket(big), big, nearSession(now.Add(time.Hour)), int(5*per), now.Add(time.Hour), now) {
		t.Error("a value larger than MaxBytes was cached")
	}
	if _, ok := c.get(big, now); ok {
		t.Error("the oversized value is served")
	}
}

// TestNearCacheNeverPastNotAfter: a copy ends at the earlier of the
// session's NotAfter and its Redis entry's expiry, and one already over is
// not taken.
func TestNearCacheNeverPastNotAfter(t *testing.T) {
	now := time.Now()
	c := newNearCache(10, 1<<20)
	k := "test:session:a"
	notAfter := now.Add(2 * time.Second)
	c.put(c.ticket(k), k, nearSession(notAfter), 10, now.Add(time.Hour), now)
	if _, ok := c.get(k, notAfter.Add(-time.Millisecond)); !ok {
		t.Fatal("not served just before NotAfter")
	}
	if _, ok := c.get(k, notAfter); ok {
		t.Error("served at NotAfter")
	}
	if _, ok := c.get(k, notAfter.Add(time.Hour)); ok {
		t.Error("served after NotAfter")
	}
	// The Redis entry expiring first (its TTL is capped by the lifetime).
	k2 := "test:session:b"
	expires := now.Add(time.Second)
	c.put(c.ticket(k2), k2, nearSession(now.Add(time.Hour)), 10, expires, now)
	if _, ok := c.get(k2, expires); ok {
		t.Error("served after the Redis entry expired")
	}
	k3 := "test:session:c"
	if c.put(c.ticket(k3), k3, nearSession(now), 10, now.Add(time.Hour), now) {
		t.Error("a session at its NotAfter was cached")
	}
}

// TestNearCacheFillRacingInvalidation: a Redis read that began before an
// invalidation of its key (or a loss of the link) is not cached, whenever
// the invalidation lands between ticket and put; one that began after is.
func TestNearCacheFillRacingInvalidation(t *testing.T) {
	now := time.Now()
	c := newNearCache(100, 1<<20)
	k := "test:session:x"
	sess := nearSession(now.Add(time.Hour))

	tk := c.ticket(k)
	c.invalidate(k) // the logout's message arrives while the GET is in flight
	if c.put(tk, k, sess, 10, now.Add(time.Hour), now) {
		t.Error("a fill that began before an invalidation of its key was cached")
	}
	tk = c.ticket(k)
	c.flush() // the link was lost while the GET was in flight
	if c.put(tk, k, sess, 10, now.Add(time.Hour), now) {
		t.Error("a fill that began before a flush was cached")
	}
	// An invalidation before the read began: the read saw the new state.
	c.invalidate(k)
	tk = c.ticket(k)
	if !c.put(tk, k, sess, 10, now.Add(time.Hour), now) {
		t.Error("a fill that began after the invalidation was refused")
	}
	// An invalidation after the put drops the entry.
	c.invalidate(k)
	if _, ok := c.get(k, now); ok {
		t.Error("served after its invalidation")
	}
	// Invalidating another key of another stripe does not refuse this fill.
	other := ""
	for i := 0; other == ""; i++ {
		if o := fmt.Sprintf("test:session:o%d", i); c.stripe(o) != c.stripe(k) {
			other = o
		}
	}
	tk = c.ticket(k)
	c.invalidate(other)
	if !c.put(tk, k, sess, 10, now.Add(time.Hour), now) {
		t.Error("an unrelated invalidation refused the fill")
	}
}

// TestNearCacheInvalidationsInAnyOrder: duplicated and reordered
// invalidation messages leave the same state (invalidations only drop),
// and keys they do not name stay.
func TestNearCacheInvalidationsInAnyOrder(t *testing.T) {
	now := time.Now()
	keys := make([]string, 20)
	for i := range keys {
		keys[i] = fmt.Sprintf("test:session:%02d", i)
	}
	var msgs []string
	for i := 0; i < 10; i++ { // the first 10 keys, each invalidated 1–3 times
		for range 1 + i%3 {
			msgs = append(msgs, keys[i])
		}
	}
	want := ""
	for trial := range 50 {
		c := newNearCache(100, 1<<20)
		for _, k := range keys {
			c.put(c.ticket(k), k, nearSession(now.Add(time.Hour)), 10, now.Add(time.Hour), now)
		}
		perm := rand.Perm(len(msgs))
		for _, i := range perm {
			c.invalidate(msgs[i])
		}
		var got strings.Builder
		for _, k := range keys {
			_, ok := c.get(k, now)
			fmt.Fprintf(&got, "%v ", ok)
		}
		if trial == 0 {
			want = got.String()
			if want != strings.Repeat("false ", 10)+strings.Repeat("true ", 10) {
				t.Fatalf("after the invalidations: %s; want the first 10 gone and the rest kept", want)
			}
		} else if got.String() != want {
			t.Fatalf("order %v gave %s, want %s", perm, got.String(), want)
		}
	}
}
