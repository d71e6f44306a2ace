package session

import (
	"crypto/sha256"
	"encoding/binary"
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

// OpenedCache remembers sessions opened from sealed values (a cookie, or a
// value a server-side store returned), keyed by a hash of the value: the
// value is authenticated, so the same bytes always open to the same session
// and repeated requests cost no decryption or decoding. Sessions it returns
// are shared: callers must not modify them. The zero value is ready to use.
type OpenedCache struct {
	mu      sync.RWMutex
	entries map[[sha256.Size]byte]openedEntry
}

type openedEntry struct {
	s     *Session
	until time.Time
}

// OpenedKey hashes where a sealed value came from (a cookie name, a store
// key) and the value; the value itself is never kept. The origin is
// length-prefixed, so no byte in either can make two pairs hash alike.
func OpenedKey(from, sealed string) [sha256.Size]byte {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(from)))
	h.Write(n[:])
	h.Write([]byte(from))
	h.Write([]byte(sealed))
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// Get returns the session opened from the value with this key, while it is
// still to be trusted at now.
func (c *OpenedCache) Get(key [sha256.Size]byte, now time.Time) (*Session, bool) {
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return nil, false
	}
	return e.s, true
}

// Put remembers s, opened from the value with this key, for at most a
// minute and never past its NotAfter.
func (c *OpenedCache) Put(key [sha256.Size]byte, s *Session, now time.Time) {
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
