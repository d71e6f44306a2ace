package assertsign

import (
	"sync"
	"time"
)

// DefaultCacheEntries bounds the assertion cache: about 1.5 KB per entry
// (the claims and the compact JWS), so about 15 MB at most.
const DefaultCacheEntries = 10000

// cached is one signed assertion and when to stop handing it out.
type cached struct {
	jws     string
	kid     string
	renewAt time.Time // iat + lifetime/2
}

// cache holds signed assertions by claim set. It is bounded: when full,
// entries due for renewal go first, then arbitrary ones.
type cache struct {
	mu      sync.RWMutex
	max     int
	entries map[Claims]cached
}

func newCache(maxEntries int) *cache {
	if maxEntries <= 0 {
		maxEntries = DefaultCacheEntries
	}
	return &cache{max: maxEntries, entries: make(map[Claims]cached)}
}

// get returns the assertion for c while it is fresh at now.
func (c *cache) get(key Claims, now time.Time) (string, bool) {
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	if !ok || !now.Before(e.renewAt) {
		return "", false
	}
	return e.jws, true
}

// put stores an assertion, making room when the cache is full.
func (c *cache) put(key Claims, e cached, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.max {
		c.evict(now)
	}
	c.entries[key] = e
}

// evict removes the stale entries, or an eighth of the cache when none is
// stale. Map iteration order is random, so the victims are too.
func (c *cache) evict(now time.Time) {
	for k, e := range c.entries {
		if !now.Before(e.renewAt) {
			delete(c.entries, k)
		}
	}
	for k := range c.entries {
		if len(c.entries) < c.max-c.max/8 {
			break
		}
		delete(c.entries, k)
	}
}

// dropKids removes every assertion signed by a key that is not published
// any more (keep reports which are).
func (c *cache) dropKids(keep func(kid string) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		if !keep(e.kid) {
			delete(c.entries, k)
		}
	}
}

// len returns the number of entries.
func (c *cache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
