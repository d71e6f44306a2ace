package session

import (
	"crypto/sha256"
	"sync"
	"time"
)

// Bounds of the opened-session cache: an entry is trusted for at most
// openedTTL (and never past the session's NotAfter), and when openedMax
// entries are held the cache starts over.
const (
	openedTTL = time.Minute
	openedMax = 10000
)

// openedCache remembers sessions opened from cookie values.
type openedCache struct {
	mu      sync.RWMutex
	entries map[[sha256.Size]byte]openedEntry
}

type openedEntry struct {
	s     *Session
	until time.Time
}

// openedKey hashes the cookie name and value; the value itself is never kept.
func openedKey(name, raw string) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{0})
	h.Write([]byte(raw))
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

func (c *openedCache) get(key [sha256.Size]byte, now time.Time) (*Session, bool) {
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return nil, false
	}
	return e.s, true
}

func (c *openedCache) put(key [sha256.Size]byte, s *Session, now time.Time) {
	until := now.Add(openedTTL)
	if s.NotAfter.Before(until) {
		until = s.NotAfter
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= openedMax {
		c.entries = make(map[[sha256.Size]byte]openedEntry)
	}
	c.entries[key] = openedEntry{s: s, until: until}
}
