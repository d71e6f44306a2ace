package fleet

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"

	"github.com/edgeauth/caddy-edgeauth/module/session"
)

// Fallback says what the store does while Redis is unavailable.
type Fallback string

const (
	// FallbackClosed (the default): Load, Save and Clear return an
	// ErrUnavailable error; the handler answers 503 with Retry-After to
	// requests that need a session. Nothing is accepted that Redis could
	// not vouch for, so logout and back-channel logout always hold.
	FallbackClosed Fallback = "closed"
	// FallbackCookie degrades to the plain cookie store while Redis is
	// unavailable: requests whose cookie holds a session ID are treated as
	// not logged in (browsers log in again), new sessions are sealed whole
	// into the cookie (session.CookieStore), and such cookie sessions are
	// accepted only while Redis is still unavailable. Once Redis answers
	// again they are refused (one more login), so every session in use is
	// again one that logout and back-channel logout can end. During the
	// outage logout is local to the browser, as without a store, and
	// sessions too large for cookies cannot be created.
	FallbackCookie Fallback = "cookie"
)

// StoreConfig configures a Store.
type StoreConfig struct {
	// Sealer seals the session-ID cookie and the values in Redis (the
	// session secret; the first secret seals, all open).
	Sealer *session.Sealer
	// Cookie describes the session cookie (Name defaults to "edgeauth").
	Cookie session.CookieOptions
	// Lifetime bounds a session from login and every Redis TTL (default
	// session.DefaultLifetime).
	Lifetime time.Duration
	// Fallback is FallbackClosed (default) or FallbackCookie.
	Fallback Fallback
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives the near-cache link's state changes (no keys, no
	// values). Default: a no-op logger.
	Logger *zap.Logger
	// NearCache, when set, keeps opened sessions in this instance's memory
	// and answers requests from there while the invalidation link is
	// current (see NearCacheConfig). Nil: every Load reads Redis.
	NearCache *NearCacheConfig
}

// NearCacheConfig bounds a Store's near-cache: a local copy of the
// sessions read from Redis, kept coherent with Redis by an invalidation
// link (pub/sub beside the command pool; see the package doc, "Near-cache").
// A copy is never served past its session's NotAfter or its Redis entry's
// expiry, nor while the link is not proven current within Lease: then
// Load reads Redis, as without a near-cache.
type NearCacheConfig struct {
	// MaxEntries bounds the number of sessions held (default
	// DefaultNearCacheEntries). When full, arbitrary entries are evicted;
	// an evicted session is read from Redis again at its next request.
	MaxEntries int
	// MaxBytes bounds their estimated memory: the sealed value's length
	// plus a fixed overhead per entry (default DefaultNearCacheBytes).
	MaxBytes int64
	// Lease is how long a confirmation of the invalidation link vouches
	// for the cache (default DefaultNearCacheLease, 500ms): a revocation
	// elsewhere reaches this instance within Lease whatever happens to the
	// link. It must be below one second.
	Lease time.Duration
}

// Validate checks the bounds; errors name the setting and the fix.
func (n NearCacheConfig) Validate() error {
	if n.MaxEntries < 0 {
		return fmt.Errorf("fleet: near_cache max_entries %d is negative; use 1 or more", n.MaxEntries)
	}
	if n.MaxBytes < 0 {
		return fmt.Errorf("fleet: near_cache max_bytes %d is negative; use for example 64MiB", n.MaxBytes)
	}
	if n.Lease < 0 || n.Lease >= time.Second {
		return fmt.Errorf("fleet: near_cache lease %s must be between 0 (default 500ms) and 1s, the revocation bound", n.Lease)
	}
	return nil
}

// Store is a session.Store keeping sessions in Redis. The cookie holds only
// the session ID, sealed and bound to the cookie name; the session (tokens,
// claims, expiry) is stored under <prefix>session:<sha256(id)>, sealed with
// the session secret and bound to that key, with a TTL of
// min(NotAfter − now, Lifetime). Sessions are indexed by (iss, sid) and
// (iss, sub) for back-channel logout (see End). Clear deletes the entry, so
// a logout on one instance ends the session on all.
//
// Load returns session.ErrNoSession when there is no session and an
// ErrUnavailable error when Redis cannot be used (see Fallback).
type Store struct {
	c        *Client
	sealer   *session.Sealer
	opts     session.CookieOptions
	lifetime time.Duration
	fallback Fallback
	cookies  *session.CookieStore
	now      func() time.Time
	opened   session.OpenedCache // sessions opened from stored values
	near     *nearCache          // nil without a near-cache
	inv      *invalidator        // its invalidation link
	hits     atomic.Uint64       // Loads answered from the near-cache
	misses   atomic.Uint64       // Loads that read Redis
	reads    singleflight.Group  // concurrent near-cache misses of one key

	// beforeWrite, when set (tests only), runs between indexing a session
	// and writing it, to make a logout land in that window.
	beforeWrite func()
}

// NewStore returns a Store on c.
func NewStore(c *Client, cfg StoreConfig) (*Store, error) {
	if c == nil || cfg.Sealer == nil {
		return nil, errors.New("fleet: a Redis client and the session sealer are required for the Redis session store")
	}
	switch cfg.Fallback {
	case "":
		cfg.Fallback = FallbackClosed
	case FallbackClosed, FallbackCookie:
	default:
		return nil, fmt.Errorf("fleet: store redis: unknown fallback %q; use closed or cookie", cfg.Fallback)
	}
	if cfg.Cookie.Name == "" {
		cfg.Cookie.Name = "edgeauth"
	}
	if cfg.Lifetime <= 0 {
		cfg.Lifetime = session.DefaultLifetime
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cs := session.NewCookieStore(cfg.Sealer, cfg.Cookie, cfg.Lifetime)
	cs.Now = cfg.Now
	s := &Store{c: c, sealer: cfg.Sealer, opts: cfg.Cookie, lifetime: cfg.Lifetime,
		fallback: cfg.Fallback, cookies: cs, now: cfg.Now}
	if n := cfg.NearCache; n != nil {
		if err := n.Validate(); err != nil {
			return nil, err
		}
		entries, bytes, lease := n.MaxEntries, n.MaxBytes, n.Lease
		if entries == 0 {
			entries = DefaultNearCacheEntries
		}
		if bytes == 0 {
			bytes = DefaultNearCacheBytes
		}
		if lease == 0 {
			lease = DefaultNearCacheLease
		}
		s.near = newNearCache(entries, bytes)
		s.inv = newInvalidator(c, s.near, lease)
		if cfg.Logger != nil {
			s.inv.log = cfg.Logger
		}
		s.inv.start()
		c.onClose(s.inv.stop)
	}
	return s, nil
}

// Lifetime is the configured session lifetime.
func (s *Store) Lifetime() time.Duration { return s.lifetime }

// idAAD binds a sealed session ID to its cookie name; it differs from the
// cookie store's binding, so neither cookie can pass for the other.
func idAAD(cookieName string) []byte { return []byte("edgeauth session id\x00" + cookieName) }

// valueAAD binds a sealed session to its Redis key.
func valueAAD(key string) []byte { return []byte("edgeauth redis session\x00" + key) }

func (s *Store) sessionKey(id string) string { return s.c.key("session", id) }

// Load implements session.Store.
func (s *Store) Load(r *http.Request) (*session.Session, error) {
	name := s.opts.ForRequest(r).CookieName()
	raw, ok := session.ReadChunks(r, name)
	if !ok {
		return nil, session.ErrNoSession
	}
	pt, err := s.sealer.OpenAt(raw, idAAD(name), s.now())
	if err != nil {
		if s.fallback == FallbackCookie {
			return s.loadFallback(r)
		}
		return nil, session.ErrNoSession
	}
	sess, err := s.load(r.Context(), string(pt))
	if err != nil && s.fallback == FallbackCookie && errors.Is(err, ErrUnavailable) {
		return nil, session.ErrNoSession // degraded: log in again into a cookie session
	}
	return sess, err
}

// loadFallback accepts a whole-session cookie only while Redis is
// unavailable (within RetryInterval of a failure no new check is made, so
// an outage does not cost a timeout per request).
func (s *Store) loadFallback(r *http.Request) (*session.Session, error) {
	sess, err := s.cookies.Load(r)
	if err != nil {
		return nil, session.ErrNoSession
	}
	err = s.c.call(r.Context(), "check availability", func(ctx context.Context) error {
		return s.c.rdb.Ping(ctx).Err()
	})
	if err == nil {
		return nil, session.ErrNoSession // Redis is back: this session is not revocable
	}
	return sess, nil
}

// get loads the session with this ID from Redis.
func (s *Store) get(ctx context.Context, id string) (*session.Session, error) {
	sess, _, err := s.getRaw(ctx, id)
	return sess, err
}

// open opens and checks the stored value val of key, the session with
// this ID. A value that does not open (a tombstone, a retired secret) or
// has expired is no session.
func (s *Store) open(key, id, val string) (*session.Session, error) {
	now := s.now()
	// Without a near-cache Redis is read on every request, so that a logout
	// anywhere counts at once; only opening and decoding the same stored
	// value is saved. With one, this runs once per fill.
	openedKey := session.OpenedKey(key, val)
	if sess, ok := s.opened.Get(openedKey, now); ok && sess.ID == id {
		return sess, nil
	}
	pt, err := s.sealer.OpenAt(val, valueAAD(key), now)
	if err != nil {
		return nil, session.ErrNoSession // a tombstone, sealed by a retired secret, or expired
	}
	sess, err := session.Decode(pt)
	if err != nil || sess.ID != id {
		return nil, session.ErrNoSession
	}
	if sess.NotAfter.IsZero() || !now.Before(sess.NotAfter) {
		return nil, session.ErrNoSession
	}
	s.opened.Put(openedKey, sess, now)
	return sess, nil
}

// ttl is how long sess may stay in Redis: min(NotAfter − now, Lifetime).
func (s *Store) ttl(sess *session.Session, now time.Time) time.Duration {
	return min(sess.NotAfter.Sub(now), s.lifetime)
}

// ErrSessionEnded is returned (wrapping session.ErrNoSession) by Save for
// a session that logout or back-channel logout ended before it could be
// stored: the caller must treat the request as logged out.
var ErrSessionEnded = fmt.Errorf("fleet: the session was ended by a logout: %w", session.ErrNoSession)

// Save implements session.Store: it stores the session in Redis (see
// below) and writes the sealed session ID to the cookie, which expires
// with the Redis entry. Nothing is written unconditionally:
//
//   - a new login (RefreshedAt zero) is created and never overwrites a
//     stored value; a back-channel logout that ended it first makes Save
//     fail with ErrSessionEnded;
//   - a refreshed session (RefreshedAt set) has already been written back
//     by the RefreshLock, conditionally on Redis still holding the session
//     it was refreshed from. Save then only checks that the session still
//     exists and writes the cookie; when it has been ended meanwhile it
//     returns ErrSessionEnded and writes nothing. Use this Store with a
//     RefreshLock as the flow's RefreshCoordinator.
func (s *Store) Save(w http.ResponseWriter, r *http.Request, sess *session.Session) error {
	if sess == nil || sess.ID == "" {
		return errors.New("fleet: refusing to save a session without an ID")
	}
	now := s.now()
	if sess.NotAfter.IsZero() {
		sess.NotAfter = now.Add(s.lifetime)
	}
	ttl := s.ttl(sess, now)
	if ttl <= 0 {
		return errors.New("fleet: refusing to save a session whose lifetime has ended")
	}
	var err error
	if sess.RefreshedAt.IsZero() {
		var res writeResult
		res, err = s.create(r.Context(), sess)
		switch {
		case err == nil && res == ended:
			err = ErrSessionEnded
		case err == nil && res == changed:
			err = errors.New("fleet: refusing to overwrite a stored session with a new login (session ID collision)")
		}
	} else if _, err = s.get(r.Context(), sess.ID); errors.Is(err, session.ErrNoSession) {
		err = ErrSessionEnded
	}
	if err != nil {
		if s.fallback == FallbackCookie && errors.Is(err, ErrUnavailable) {
			return s.cookies.Save(w, r, sess)
		}
		return err
	}
	opts := s.opts.ForRequest(r)
	opts.MaxAge = ttl
	sealed := s.sealer.SealUntil([]byte(sess.ID), idAAD(opts.CookieName()), now.Add(ttl))
	return session.WriteChunks(w, r, opts, sealed)
}

// indexScript adds a member to an index set and extends the set's TTL to
// at least ARGV[2] ms (never shortens it).
var indexScript = redis.NewScript(`
redis.call("SADD", KEYS[1], ARGV[1])
if redis.call("PTTL", KEYS[1]) < tonumber(ARGV[2]) then
	redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 1`)

// Clear implements session.Store: it expires the cookie and deletes the
// session from Redis, which ends it on every instance. The cookie is
// cleared even when Redis is unavailable (the error is then returned).
func (s *Store) Clear(w http.ResponseWriter, r *http.Request) error {
	name := s.opts.ForRequest(r).CookieName()
	raw, ok := session.ReadChunks(r, name)
	session.ClearChunks(w, r, s.opts)
	if !ok {
		return nil
	}
	pt, err := s.sealer.OpenAt(raw, idAAD(name), s.now())
	if err != nil {
		return nil // not an ID cookie (or a fallback cookie): nothing in Redis
	}
	key := s.sessionKey(string(pt))
	err = s.c.call(r.Context(), "clear session", func(ctx context.Context) error {
		return deleteScript.Run(ctx, s.c.rdb, []string{key}, s.c.invalidationChannel()).Err()
	})
	s.dropNear(key) // after the delete: a fill that raced it is refused
	return err
}

// IsSessionCookie reports whether a cookie of this name belongs to this
// store (either name form, any chunk), so the handler can strip it before
// the request goes upstream.
func (s *Store) IsSessionCookie(name string) bool {
	return s.cookies.IsSessionCookie(name)
}

var _ session.Store = (*Store)(nil)
