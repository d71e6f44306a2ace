package token

import (
	"encoding/binary"
	"math/bits"
	"sync/atomic"
)

// seenFilter remembers tokens offered to the cache once, so that the cache
// stores an identity only when its token comes a second time (Cache.Offer).
// A stream of tokens that are each used once (every request a new token)
// then costs no cache insert and leaves no identities for the garbage
// collector to mark, and cannot push out the identities of tokens that are
// used again.
//
// It is a fixed array of 64-bit fingerprints (a prefix of the token's
// SHA-256), one per slot, with no pointers: the garbage collector never
// scans it. A new fingerprint overwrites its slot. The filter only decides
// whether an identity is stored; what is stored is keyed, and looked up, by
// the full SHA-256. A fingerprint collision, or a slot overwritten by
// another token, changes only whether (or when) a token's own identity is
// cached, never which identity a token gets.
type seenFilter struct {
	slots []atomic.Uint64
	shift uint // 64 - log2(len(slots)): the slot is the fingerprint's top bits
}

// Filter sizes: two slots per cache entry, rounded up to a power of two,
// within these bounds (8 bytes a slot).
const (
	minSeenSlots = 1 << 10
	maxSeenSlots = 1 << 24
)

func newSeenFilter(cacheEntries int) *seenFilter {
	n := maxSeenSlots
	if cacheEntries < maxSeenSlots/2 { // no overflow for huge caps
		n = max(2*cacheEntries, minSeenSlots)
	}
	log2 := bits.Len(uint(n - 1)) // n rounded up to 1<<log2
	return &seenFilter{slots: make([]atomic.Uint64, 1<<log2), shift: uint(64 - log2)}
}

// fingerprint is the filter's view of a cache key: its first 8 bytes, never
// 0 (0 marks an empty slot).
func fingerprint(k *Key) uint64 {
	fp := binary.LittleEndian.Uint64(k[:8])
	if fp == 0 {
		fp = 1
	}
	return fp
}

// seenBefore reports whether k was offered before (and not overwritten
// since); otherwise it records k and reports false.
func (f *seenFilter) seenBefore(k *Key) bool {
	fp := fingerprint(k)
	s := &f.slots[fp>>f.shift]
	if s.Load() == fp {
		return true
	}
	s.Store(fp)
	return false
}

// reset forgets every token.
func (f *seenFilter) reset() {
	for i := range f.slots {
		f.slots[i].Store(0)
	}
}
