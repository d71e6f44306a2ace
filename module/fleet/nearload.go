package fleet

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/edgeauth/caddy-edgeauth/module/session"
)

// load is Load's look-up of the session with this ID: from the near-cache
// while the invalidation link is current, else from Redis (GET and PTTL in
// one round trip), filling the near-cache unless an invalidation of the
// key (or a loss of the link) came in since the read began. Concurrent
// misses of one key share one read only when it began after the last
// invalidation they could know of and within joinWindow of them.
func (s *Store) load(ctx context.Context, id string) (*session.Session, error) {
	if s.near == nil {
		return s.get(ctx, id)
	}
	key := s.sessionKey(id)
	now := s.now()
	if s.inv.trusted() {
		if sess, ok := s.near.get(key, now); ok && sess.ID == id {
			s.hits.Add(1)
			return sess, nil
		}
	}
	s.misses.Add(1)
	// A caller joins only a read that began after the last invalidation or
	// flush it could know of (the ticket is in the flight's key) and within
	// the same joinWindow: a read begun before a revocation never answers
	// a request that arrives after it, however slow Redis's reply.
	t := s.near.ticket(key)
	flight := fmt.Sprintf("%s|%d|%d|%d", key, t.epoch, t.gen, now.UnixNano()/int64(joinWindow))
	v, err, _ := s.reads.Do(flight, func() (any, error) {
		// Detached from the first caller: its cancellation must not fail
		// the others (the client's read timeout bounds the read).
		return s.readNear(context.WithoutCancel(ctx), key, t)
	})
	if err != nil {
		return nil, err
	}
	rd := v.(nearRead)
	sess, err := s.open(key, id, rd.val)
	if err != nil {
		return nil, err
	}
	if rd.pttl > 0 {
		// A key without expiry (pttl -1) is never cached: every stored
		// session has one, so something else wrote it.
		s.near.put(rd.ticket, key, sess, len(rd.val), now.Add(rd.pttl), now)
	}
	return sess, nil
}

// nearRead is one read of a session key for the near-cache.
type nearRead struct {
	ticket nearTicket
	val    string
	pttl   time.Duration
}

// joinWindow bounds how long after a shared read began another miss of the
// same key may still join it.
const joinWindow = 100 * time.Millisecond

// readNear reads key's value and TTL under the fill ticket t, taken before.
func (s *Store) readNear(ctx context.Context, key string, t nearTicket) (nearRead, error) {
	rd := nearRead{ticket: t}
	err := s.c.call(ctx, "load session", func(ctx context.Context) error {
		var get *redis.StringCmd
		var ttl *redis.DurationCmd
		_, err := s.c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			get = p.Get(ctx, key)
			ttl = p.PTTL(ctx, key)
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		if rd.val, err = get.Result(); err != nil {
			return err
		}
		rd.pttl, err = ttl.Result()
		return err
	})
	if errors.Is(err, redis.Nil) {
		return rd, session.ErrNoSession
	}
	return rd, err
}

// dropNear removes this instance's copy of key at once (after its own
// write; the published invalidation reaches the others).
func (s *Store) dropNear(key string) {
	if s.near != nil {
		s.near.invalidate(key)
	}
}

// NearCacheStats describes a Store's near-cache.
type NearCacheStats struct {
	// Enabled is false without a near-cache (every Load reads Redis).
	Enabled bool
	// Hits and Misses count Loads answered from memory and from Redis.
	Hits, Misses uint64
	// Entries and Bytes are what it holds now (bytes estimated).
	Entries int
	Bytes   int64
	// Evictions counts entries dropped to stay within the bounds.
	Evictions uint64
	// Invalidations counts invalidation messages received; Subscriptions
	// counts (re)subscriptions of the link.
	Invalidations, Subscriptions uint64
	// Current reports whether the link is proven current now (copies are
	// served only then).
	Current bool
}

// NearCacheStats returns the near-cache's counters.
func (s *Store) NearCacheStats() NearCacheStats {
	if s.near == nil {
		return NearCacheStats{}
	}
	n, b := s.near.size()
	return NearCacheStats{
		Enabled: true, Hits: s.hits.Load(), Misses: s.misses.Load(), Entries: n, Bytes: b,
		Evictions: s.near.evictions.Load(), Invalidations: s.inv.invalidations.Load(),
		Subscriptions: s.inv.resubscribes.Load(), Current: s.inv.trusted(),
	}
}
