package fleet

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/session"
)

// Defaults of NearCacheConfig.
const (
	DefaultNearCacheEntries = 100_000
	DefaultNearCacheBytes   = 256 << 20
	// DefaultNearCacheLease is how long a confirmation of the invalidation
	// link vouches for the cached copies (see Invalidator).
	DefaultNearCacheLease = 500 * time.Millisecond
)

// nearEntryOverhead is what an entry costs beyond the length of its stored
// value: the decoded session (claims map, strings), the map slot and the
// entry itself. It is an estimate; the stored value's length dominates.
const nearEntryOverhead = 512

// genStripes is the number of invalidation counters a fill is checked
// against (a power of two).
const genStripes = 4096

// nearCache holds sessions opened from Redis, keyed by their Redis key
// (which is a SHA-256 hash: no raw session ID is kept as a key). It is
// bounded in entries and in bytes, never returns a session at or after its
// NotAfter or after the Redis entry's own expiry, and never takes a fill
// that an invalidation may have overtaken:
//
//   - before reading Redis, a caller takes a ticket (ticket), which records
//     the invalidation counter of the key's stripe and the cache epoch;
//   - an invalidation of a key bumps its stripe's counter and drops the
//     key; losing the link (flush) bumps the epoch and drops everything;
//   - put stores the value read only if neither moved since the ticket.
//
// An invalidation only ever drops, so duplicated or reordered invalidation
// messages give the same result in any order; a fill that raced one is
// refused (its next request reads Redis again).
type nearCache struct {
	maxEntries int
	maxBytes   int64
	seed       maphash.Seed

	epoch atomic.Uint64
	gens  [genStripes]atomic.Uint64

	mu      sync.RWMutex
	entries map[string]*nearEntry
	bytes   int64

	evictions atomic.Uint64
}

type nearEntry struct {
	sess  *session.Session
	until time.Time
	size  int64
}

// nearTicket is a snapshot taken before reading Redis (see nearCache).
type nearTicket struct {
	epoch, gen uint64
	stripe     int
}

func newNearCache(maxEntries int, maxBytes int64) *nearCache {
	return &nearCache{maxEntries: maxEntries, maxBytes: maxBytes, seed: maphash.MakeSeed(), entries: make(map[string]*nearEntry)}
}

func (c *nearCache) stripe(key string) int {
	return int(maphash.String(c.seed, key) & (genStripes - 1))
}

// get returns the cached session of key while now is before its end.
func (c *nearCache) get(key string, now time.Time) (*session.Session, bool) {
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return nil, false
	}
	return e.sess, true
}

// ticket is taken before the Redis read whose result may be put.
func (c *nearCache) ticket(key string) nearTicket {
	s := c.stripe(key)
	// The epoch is read first: a flush bumps it before dropping entries,
	// so a ticket never pairs an old epoch with a fill made after a flush.
	return nearTicket{epoch: c.epoch.Load(), gen: c.gens[s].Load(), stripe: s}
}

// put stores sess (read from Redis under key after t was taken; rawLen is
// the stored value's length) until the earlier of its NotAfter and
// expires (the Redis entry's expiry). It reports whether it was stored.
func (c *nearCache) put(t nearTicket, key string, sess *session.Session, rawLen int, expires, now time.Time) bool {
	until := sess.NotAfter
	if !expires.IsZero() && expires.Before(until) {
		until = expires
	}
	if !now.Before(until) {
		return false
	}
	size := int64(len(key)+rawLen) + nearEntryOverhead
	if size > c.maxBytes || c.maxEntries <= 0 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// Checked under the lock that invalidate and flush also take: an
	// invalidation either happened before (and is seen here) or happens
	// after, and then drops this entry.
	if c.epoch.Load() != t.epoch || c.gens[t.stripe].Load() != t.gen {
		return false
	}
	if old, ok := c.entries[key]; ok {
		c.bytes -= old.size
		delete(c.entries, key)
	}
	c.makeRoom(size, now)
	c.entries[key] = &nearEntry{sess: sess, until: until, size: size}
	c.bytes += size
	return true
}

// makeRoom drops entries until one of size fits: expired ones first, then
// arbitrary ones (Go's map order is randomised, so this is random
// eviction, which needs no bookkeeping on the read path). c.mu is held.
func (c *nearCache) makeRoom(size int64, now time.Time) {
	full := func() bool { return len(c.entries)+1 > c.maxEntries || c.bytes+size > c.maxBytes }
	if !full() {
		return
	}
	for k, e := range c.entries {
		if !now.Before(e.until) {
			c.bytes -= e.size
			delete(c.entries, k)
		}
	}
	for k, e := range c.entries {
		if !full() {
			return
		}
		c.bytes -= e.size
		delete(c.entries, k)
		c.evictions.Add(1)
	}
}

// invalidate drops key and refuses fills of its stripe taken before now.
func (c *nearCache) invalidate(key string) {
	s := c.stripe(key)
	c.mu.Lock()
	c.gens[s].Add(1)
	if e, ok := c.entries[key]; ok {
		c.bytes -= e.size
		delete(c.entries, key)
	}
	c.mu.Unlock()
}

// flush drops everything and refuses every fill whose ticket is older.
func (c *nearCache) flush() {
	c.mu.Lock()
	c.epoch.Add(1)
	c.entries = make(map[string]*nearEntry)
	c.bytes = 0
	c.mu.Unlock()
}

// size returns the number of entries and their estimated bytes.
func (c *nearCache) size() (int, int64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries), c.bytes
}
