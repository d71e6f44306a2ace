package sts

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// CacheConfig configures a credential Cache.
type CacheConfig struct {
	// MaxEntries caps the cache. Default 10000.
	MaxEntries int
	// RefreshMargin: cached credentials are replaced this long before their
	// Expiration (credentials-go refreshes at 180 s). Default 3m.
	RefreshMargin time.Duration
	// FetchTimeout bounds a shared fetch, which runs detached from the
	// callers' contexts. It should exceed the exchanger's own timeout.
	// Default 30s.
	FetchTimeout time.Duration
	// NegativeTTL: after an Unavailable error, further callers of the same key
	// get that error without a new exchange for min(NegativeTTL, RetryAfter),
	// so that an STS outage does not turn into a stampede. Other errors are
	// never cached. Default 1s; negative disables it.
	NegativeTTL time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Shared, when set, shares credentials with other gateway instances and
	// lets only one of them exchange per key at a time (see SharedStore).
	// Nil (the default) keeps everything in this process.
	Shared SharedStore
	// SharedPoll is how often an instance waiting for another one's exchange
	// looks for its result. Default 25ms.
	SharedPoll time.Duration
}

// Stats are the cache counters.
type Stats struct {
	// Hits: answered from the cache.
	Hits uint64
	// Misses: not in the cache (or due for refresh); the caller waited for a
	// fetch, its own or a shared one.
	Misses uint64
	// Exchanges: fetch functions actually called.
	Exchanges uint64
	// Errors: fetches that failed.
	Errors uint64
	// NegativeHits: callers answered from the short negative cache.
	NegativeHits uint64
	// SharedHits: fetches answered from the SharedStore (another instance's
	// exchange) instead of an exchange of this instance.
	SharedHits uint64
	// SharedErrors: SharedStore calls that failed; the instance then
	// exchanged on its own.
	SharedErrors uint64
}

// Cache holds credentials per key. It refreshes them RefreshMargin before
// expiry, runs at most one fetch per key at a time, and shares the result
// with every caller waiting on that key.
type Cache struct {
	cfg CacheConfig
	sf  singleflight.Group

	mu      sync.RWMutex
	entries map[string]*cacheEntry

	hits, misses, exchanges, errs, negHits, sharedHits, sharedErrs atomic.Uint64
}

type cacheEntry struct {
	creds *Credentials
	// validUntil = min(Expiration − RefreshMargin, sourceExpiry).
	validUntil time.Time
	// err is a negative entry (Unavailable only) valid until errUntil.
	err      error
	errUntil time.Time
}

// NewCache returns an empty cache.
func NewCache(cfg CacheConfig) *Cache {
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 10000
	}
	if cfg.RefreshMargin <= 0 {
		cfg.RefreshMargin = 3 * time.Minute
	}
	if cfg.FetchTimeout <= 0 {
		cfg.FetchTimeout = 30 * time.Second
	}
	if cfg.NegativeTTL == 0 {
		cfg.NegativeTTL = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SharedPoll <= 0 {
		cfg.SharedPoll = 25 * time.Millisecond
	}
	return &Cache{cfg: cfg, entries: make(map[string]*cacheEntry)}
}

// Key hashes the parts that identify a credential (role, provider, issuer,
// subject, policy, session name …) with SHA-256, so no subject or token is
// kept raw as a key. Parts are length-prefixed: ("ab","c") ≠ ("a","bc").
func Key(parts ...string) string {
	h := sha256.New()
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Get returns the credentials for key. Cached credentials are returned while
// now < min(Expiration − RefreshMargin, sourceExpiry); a zero sourceExpiry
// (the expiry of the token they were made from) means no such cap.
//
// Otherwise fetch runs once for all concurrent callers of key, on a context
// detached from theirs (bounded by FetchTimeout): a caller whose ctx ends
// returns ctx.Err() at once, while the fetch goes on for the others and
// fills the cache. Errors are returned as fetch gave them and not cached,
// except Unavailable ones for NegativeTTL. The returned value is shared:
// do not modify it.
func (c *Cache) Get(ctx context.Context, key string, sourceExpiry time.Time, fetch func(ctx context.Context) (*Credentials, error)) (*Credentials, error) {
	now := c.cfg.Now()
	c.mu.RLock()
	e := c.entries[key]
	c.mu.RUnlock()
	if e != nil {
		if e.creds != nil && fresh(e, now, sourceExpiry) {
			c.hits.Add(1)
			return e.creds, nil
		}
		if e.err != nil && now.Before(e.errUntil) {
			c.negHits.Add(1)
			return nil, e.err
		}
	}
	c.misses.Add(1)

	ch := c.sf.DoChan(key, func() (any, error) {
		// Another flight may have filled the entry between our look-up and
		// this flight starting: use it rather than fetching again.
		if cr := c.lookup(key, sourceExpiry); cr != nil {
			return cr, nil
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.FetchTimeout)
		defer cancel()
		if c.cfg.Shared != nil {
			cr, until, err := c.fetchShared(fctx, key, sourceExpiry, fetch)
			if err != nil {
				c.storeErr(key, err)
				return nil, err
			}
			c.put(key, &cacheEntry{creds: cr, validUntil: until})
			return cr, nil
		}
		cr, err := c.exchange(fctx, fetch)
		if err != nil {
			c.storeErr(key, err)
			return nil, err
		}
		c.store(key, cr, sourceExpiry)
		return cr, nil
	})
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*Credentials), nil
	}
}

// exchange calls fetch and counts it.
func (c *Cache) exchange(ctx context.Context, fetch func(ctx context.Context) (*Credentials, error)) (*Credentials, error) {
	c.exchanges.Add(1)
	cr, err := fetch(ctx)
	if err == nil && cr == nil {
		err = &Error{Kind: Unavailable, Code: CodeBadResponse, Message: "the exchanger returned no credentials"}
	}
	if err != nil {
		c.errs.Add(1)
		return nil, err
	}
	return cr, nil
}

func fresh(e *cacheEntry, now, sourceExpiry time.Time) bool {
	if !now.Before(e.validUntil) {
		return false
	}
	return sourceExpiry.IsZero() || now.Before(sourceExpiry)
}

func (c *Cache) lookup(key string, sourceExpiry time.Time) *Credentials {
	now := c.cfg.Now()
	c.mu.RLock()
	defer c.mu.RUnlock()
	if e := c.entries[key]; e != nil && e.creds != nil && fresh(e, now, sourceExpiry) {
		return e.creds
	}
	return nil
}

func (c *Cache) store(key string, cr *Credentials, sourceExpiry time.Time) {
	c.put(key, &cacheEntry{creds: cr, validUntil: c.validUntil(cr, sourceExpiry)})
}

// validUntil is min(Expiration − RefreshMargin, sourceExpiry).
func (c *Cache) validUntil(cr *Credentials, sourceExpiry time.Time) time.Time {
	until := cr.Expiration.Add(-c.cfg.RefreshMargin)
	if !sourceExpiry.IsZero() && sourceExpiry.Before(until) {
		until = sourceExpiry
	}
	return until
}

func (c *Cache) storeErr(key string, err error) {
	var se *Error
	if c.cfg.NegativeTTL < 0 || !errors.As(err, &se) || se.Kind != Unavailable {
		c.mu.Lock()
		if e := c.entries[key]; e != nil && e.err != nil {
			delete(c.entries, key)
		}
		c.mu.Unlock()
		return
	}
	ttl := c.cfg.NegativeTTL
	if se.RetryAfter > 0 && se.RetryAfter < ttl {
		ttl = se.RetryAfter
	}
	// A stale success entry is replaced: its credentials are due anyway.
	c.put(key, &cacheEntry{err: err, errUntil: c.cfg.Now().Add(ttl)})
}

func (c *Cache) put(key string, e *cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.cfg.MaxEntries {
		c.evictLocked()
	}
	c.entries[key] = e
}

// evictLocked makes room: first every expired entry, then, if the cache is
// still full, the entries closest to expiry (1 % of the cap at once, so that
// a full cache does not sort on every insert).
func (c *Cache) evictLocked() {
	now := c.cfg.Now()
	for k, e := range c.entries {
		if !now.Before(e.until()) {
			delete(c.entries, k)
		}
	}
	if len(c.entries) < c.cfg.MaxEntries {
		return
	}
	type kv struct {
		k string
		t time.Time
	}
	all := make([]kv, 0, len(c.entries))
	for k, e := range c.entries {
		all = append(all, kv{k, e.until()})
	}
	slices.SortFunc(all, func(a, b kv) int { return a.t.Compare(b.t) })
	n := len(c.entries) - c.cfg.MaxEntries + 1 + c.cfg.MaxEntries/100
	for i := 0; i < n && i < len(all); i++ {
		delete(c.entries, all[i].k)
	}
}

func (e *cacheEntry) until() time.Time {
	if e.creds != nil {
		return e.validUntil
	}
	return e.errUntil
}

// Len is the number of entries (expired ones included until evicted).
func (c *Cache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}

// Flush drops every entry. Fetches in flight still complete and store.
func (c *Cache) Flush() {
	c.mu.Lock()
	c.entries = make(map[string]*cacheEntry)
	c.mu.Unlock()
}

// Stats returns the counters.
func (c *Cache) Stats() Stats {
	return Stats{Hits: c.hits.Load(), Misses: c.misses.Load(), Exchanges: c.exchanges.Load(),
		Errors: c.errs.Load(), NegativeHits: c.negHits.Load(),
		SharedHits: c.sharedHits.Load(), SharedErrors: c.sharedErrs.Load()}
}
