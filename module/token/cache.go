package token

import (
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	gocache "github.com/patrickmn/go-cache"

	"github.com/edgeauth/caddy-edgeauth/module/identity"
)

// Cache defaults.
const (
	DefaultCacheEntries = 20000
	DefaultCacheTTL     = 5 * time.Minute
)

// minFullSweepInterval limits how often a full cache sweeps for expired
// entries on Put, so that a stream of new tokens into a full cache cannot
// make every Put walk all entries.
const minFullSweepInterval = time.Second

// Cache holds verified identities keyed by the SHA-256 of the raw token
// (the token itself is never stored as a key). Entries live at most maxTTL
// and never past the identity's Expiry, both judged by the cache's clock
// (go-cache's own wall-clock expiry is not used, so tests can move time).
//
// A Cache is not scoped: a token verified under one set of rules is a hit
// for every user of the same Cache. Share a Cache only between users that
// verify with the same Selector and rules.
//
// Identities returned by Get are shared with the cache and with other
// requests: callers must not modify them (or their Claims and Scopes).
type Cache struct {
	c       *gocache.Cache // cacheKey → cacheEntry
	max     int
	maxTTL  time.Duration
	now     func() time.Time
	stop    chan struct{}
	stopped sync.Once
	done    chan struct{}

	lastFullSweep atomic.Int64 // unix nanoseconds

	seen *seenFilter // tokens offered once (Offer)
}

// NewCache returns a cache of at most maxEntries identities (default
// 20000) kept at most maxTTL (default 5m). It runs a sweep goroutine until
// Stop is called.
func NewCache(maxEntries int, maxTTL time.Duration) *Cache {
	if maxEntries <= 0 {
		maxEntries = DefaultCacheEntries
	}
	if maxTTL <= 0 {
		maxTTL = DefaultCacheTTL
	}
	c := &Cache{
		// No expiry of go-cache's own (entries carry theirs), and
		// cleanupInterval 0: go-cache's janitor cannot be stopped.
		c:      gocache.New(gocache.NoExpiration, 0),
		max:    maxEntries,
		maxTTL: maxTTL,
		now:    time.Now,
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		seen:   newSeenFilter(maxEntries),
	}
	go c.sweep(min(maxTTL, time.Minute))
	return c
}

func (c *Cache) sweep(every time.Duration) {
	defer close(c.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.deleteExpired()
		}
	}
}

// Stop ends the sweep goroutine and waits for it. It is idempotent; the
// cache still works afterwards, without the background sweep.
func (c *Cache) Stop() {
	c.stopped.Do(func() { close(c.stop) })
	<-c.done
}

// Key is a token's cache key: the SHA-256 of its bytes. A caller that
// needs the hash for something else too (a DPoP proof's ath is the
// base64url of the same SHA-256) computes it once with KeyOf and uses
// Lookup and Offer.
type Key [sha256.Size]byte

// KeyOf returns raw's cache key.
func KeyOf(raw string) Key { return hashToken(raw) }

// hashToken hashes the string's bytes in place: sha256 only reads them, and
// a copy would cost an allocation per request on the cached path. This,
// the lookup in Lookup and the hashing of an RSA signature's input
// (verifySignature) are the package's only unsafe conversions; they stay
// because BenchmarkCacheGetUnsafe shows they pay on every cached request
// (0.54 µs of CPU and no allocation, against 1.4–1.5 µs and a copy of the
// token, 640 B for the benchmark's, when copying).
func hashToken(raw string) Key {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(raw), len(raw)))
}

// cacheEntry is one cached identity and the end of its stay.
type cacheEntry struct {
	id    *identity.Identity
	until time.Time // min(Put time + maxTTL, id.Expiry)
}

// deleteExpired removes every entry whose stay has ended.
func (c *Cache) deleteExpired() {
	now := c.now()
	for k, item := range c.c.Items() {
		if e, ok := item.Object.(cacheEntry); ok && !now.Before(e.until) {
			c.c.Delete(k)
		}
	}
}

// Get returns the identity cached for raw, if any and not yet expired.
func (c *Cache) Get(raw string) (*identity.Identity, bool) {
	k := hashToken(raw)
	return c.Lookup(&k)
}

// Lookup is Get by the token's key (KeyOf).
func (c *Cache) Lookup(k *Key) (*identity.Identity, bool) {
	// The lookup does not keep its key, so the key may alias k (on the
	// caller's stack) instead of being copied to the heap on every request.
	v, ok := c.c.Get(unsafe.String(&k[0], len(k)))
	if !ok {
		return nil, false
	}
	e := v.(cacheEntry)
	if !c.now().Before(e.until) {
		c.c.Delete(string(k[:])) // a copy: Delete may hand its key on
		return nil, false
	}
	return e.id, true
}

// Put caches id for raw until min(maxTTL, id.Expiry), on first sight. When
// the cache is full it first drops expired entries; if it is still full, id
// is not cached. Concurrent Puts may overshoot the cap by a few entries.
func (c *Cache) Put(raw string, id *identity.Identity) {
	k := hashToken(raw)
	c.store(&k, id)
}

// Offer caches id under k as Put does, but only when the same key was
// offered before: the first offer of a token only marks it as seen (in a
// fixed, pointer-free filter), so tokens that are used once are never
// stored. It reports whether id was stored. Lookups stay by the full key:
// the filter decides only whether to store (see seenFilter).
func (c *Cache) Offer(k *Key, id *identity.Identity) bool {
	if id == nil || !c.seen.seenBefore(k) {
		return false
	}
	return c.store(k, id)
}

// store is Put by key; it reports whether id was stored.
func (c *Cache) store(k *Key, id *identity.Identity) bool {
	if id == nil {
		return false
	}
	now := c.now()
	until := now.Add(c.maxTTL)
	if !id.Expiry.IsZero() && id.Expiry.Before(until) {
		until = id.Expiry
	}
	if !now.Before(until) {
		return false
	}
	if c.c.ItemCount() >= c.max {
		last := c.lastFullSweep.Load()
		if now.UnixNano()-last >= int64(minFullSweepInterval) && c.lastFullSweep.CompareAndSwap(last, now.UnixNano()) {
			c.deleteExpired()
		}
		if c.c.ItemCount() >= c.max {
			return false
		}
	}
	c.c.Set(string(k[:]), cacheEntry{id: id, until: until}, gocache.NoExpiration)
	return true
}

// Len returns the number of entries (expired ones not yet swept included).
func (c *Cache) Len() int { return c.c.ItemCount() }

// Flush removes every entry and forgets the tokens offered once.
func (c *Cache) Flush() {
	c.c.Flush()
	c.seen.reset()
}
