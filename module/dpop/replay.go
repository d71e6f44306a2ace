package dpop

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"time"
)

// ReplayKey identifies one proof in a replay store: a SHA-256 prefix over
// the proof key's thumbprint and the jti, so that one client's jti never
// collides with another's and no raw jti is stored.
type ReplayKey [16]byte

// ReplayStore remembers proofs that passed. Claim records key until
// expires and reports whether it was new; a store that cannot answer
// returns an error, and the proof is then refused (fail closed).
type ReplayStore interface {
	Claim(ctx context.Context, key ReplayKey, expires time.Time) (fresh bool, err error)
}

// ErrReplayStoreFull is returned by MemoryReplay when every slot holds a
// proof that has not expired yet.
var ErrReplayStoreFull = errors.New("DPoP replay cache is full")

// DefaultReplayEntries is the default capacity of a MemoryReplay: about
// 23,000 new proofs a second at the default 60s proof window plus clock
// skew. Memory follows use (about 64 bytes per live proof, so about 130 MB
// only when full); an idle store holds a few kilobytes.
const DefaultReplayEntries = 1 << 21

const replayShards = 16

// minReplayRing is the ring a shard starts with; it doubles while full,
// up to the shard's share of the capacity.
const minReplayRing = 256

// MemoryReplay is a bounded in-process ReplayStore. Entries are kept until
// they expire; when a shard is full of live entries, Claim fails with
// ErrReplayStoreFull rather than forgetting a live proof (which would let
// it be replayed).
type MemoryReplay struct {
	shards [replayShards]replayShard
}

type replayShard struct {
	mu    sync.Mutex
	seen  map[ReplayKey]int64 // expiry, Unix nanoseconds
	order []replayEntry       // ring in insertion order; grows up to max
	head  int
	n     int
	max   int
}

type replayEntry struct {
	key     ReplayKey
	expires int64
}

// NewMemoryReplay returns a store for at most maxEntries live proofs
// (DefaultReplayEntries when <= 0).
func NewMemoryReplay(maxEntries int) *MemoryReplay {
	if maxEntries <= 0 {
		maxEntries = DefaultReplayEntries
	}
	per := max(maxEntries/replayShards, 1)
	m := new(MemoryReplay)
	for i := range m.shards {
		m.shards[i].seen = make(map[ReplayKey]int64)
		m.shards[i].order = make([]replayEntry, min(per, minReplayRing))
		m.shards[i].max = per
	}
	return m
}

// Claim records key until expires; fresh is false when a live entry for
// key exists already.
func (m *MemoryReplay) Claim(_ context.Context, key ReplayKey, expires time.Time) (bool, error) {
	s := &m.shards[binary.LittleEndian.Uint64(key[:8])%replayShards]
	now := time.Now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	if exp, ok := s.seen[key]; ok && exp > now {
		return false, nil
	}
	// Drop expired entries from the front. Entries mostly expire in
	// insertion order; one that outlives a later one only delays that
	// one's slot, never its expiry check above.
	for s.n > 0 {
		e := s.order[s.head]
		if e.expires > now {
			break
		}
		if exp, ok := s.seen[e.key]; ok && exp == e.expires {
			delete(s.seen, e.key)
		}
		s.head = (s.head + 1) % len(s.order)
		s.n--
	}
	if s.n == len(s.order) && !s.grow() {
		return false, ErrReplayStoreFull
	}
	exp := expires.UnixNano()
	s.order[(s.head+s.n)%len(s.order)] = replayEntry{key: key, expires: exp}
	s.n++
	s.seen[key] = exp
	return true, nil
}

// grow doubles a full ring, up to the shard's maximum, keeping the entries
// in order; it reports false when the ring is at its maximum already.
func (s *replayShard) grow() bool {
	if len(s.order) >= s.max {
		return false
	}
	next := make([]replayEntry, min(2*len(s.order), s.max))
	for i := range s.n {
		next[i] = s.order[(s.head+i)%len(s.order)]
	}
	s.order, s.head = next, 0
	return true
}

// Len is the number of entries held (live or awaiting removal).
func (m *MemoryReplay) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += s.n
		s.mu.Unlock()
	}
	return n
}
