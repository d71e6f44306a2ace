package dpop

import (
	"crypto"
	"sync"
)

// headerCacheEntries bounds the parsed-header cache of a Checker.
const headerCacheEntries = 4096

// parsedHeader is what a proof's JOSE header yields once checked: a client
// sends the same header (typ, alg, its jwk) with every proof, so decoding
// it, building the key (with its on-curve check) and hashing the thumbprint
// are done once per client, not per request. Only headers that passed every
// header check are cached; the cache is keyed by the exact base64url bytes,
// so a cached entry is what parsing those bytes again would give.
type parsedHeader struct {
	alg string
	key crypto.PublicKey
	jkt string
}

// headerCache is a bounded map of parsed headers; when full it is emptied
// (clients then re-parse once), which keeps it simple and bounded. A nil
// cache caches nothing.
type headerCache struct {
	mu  sync.RWMutex
	m   map[string]parsedHeader
	max int
}

func newHeaderCache(max int) *headerCache {
	return &headerCache{m: make(map[string]parsedHeader), max: max}
}

func (c *headerCache) get(h64 string) (parsedHeader, bool) {
	if c == nil {
		return parsedHeader{}, false
	}
	c.mu.RLock()
	h, ok := c.m[h64]
	c.mu.RUnlock()
	return h, ok
}

func (c *headerCache) put(h64 string, h parsedHeader) {
	if c == nil || h.jkt == "" {
		return
	}
	c.mu.Lock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[h64] = h
	c.mu.Unlock()
}
