package fleet

import (
	"context"
	"errors"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/login"
	"github.com/edgeauth/caddy-edgeauth/module/session"
)

// RefreshLockConfig configures a RefreshLock.
type RefreshLockConfig struct {
	// LockTTL bounds how long one instance may hold a session's refresh
	// lock (default 20s, above the login flow's 15s refresh timeout). If
	// the holder dies, others take over after it.
	LockTTL time.Duration
	// Poll is how often a waiting instance looks for the result (default
	// 25ms, with jitter).
	Poll time.Duration
}

// RefreshLock is a login.RefreshCoordinator on Redis: one instance takes a
// short lock on the session (SET NX PX with a random token, released by a
// compare-and-delete script), refreshes, writes the refreshed session back
// only over the very value it refreshed (compare-and-set: a logout or a
// newer refresh meanwhile wins) and releases the lock; the others wait and
// then use the stored session.
type RefreshLock struct {
	store *Store
	cfg   RefreshLockConfig
}

// ErrRefreshWait means an instance gave up waiting for another instance's
// refresh (its context ended). It is a coordination failure for the flow.
var ErrRefreshWait = errors.New("fleet: timed out waiting for another instance to refresh the session")

// NewRefreshLock returns a coordinator for sessions of store. Set it as
// login.FlowConfig.RefreshCoordinator of a Flow whose Store is store.
func NewRefreshLock(store *Store, cfg RefreshLockConfig) *RefreshLock {
	if cfg.LockTTL <= 0 {
		cfg.LockTTL = 20 * time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 25 * time.Millisecond
	}
	return &RefreshLock{store: store, cfg: cfg}
}

var _ login.RefreshCoordinator = (*RefreshLock)(nil)

// Refresh implements login.RefreshCoordinator. Errors: do's own (as
// returned), session.ErrNoSession when the session is gone from Redis
// (ended elsewhere, also while do ran), ErrUnavailable when Redis fails (under FallbackCookie
// the refresh then runs uncoordinated instead), ErrRefreshWait when ctx ends
// (or its deadline passes) while another instance holds the lock or while
// Redis is being asked: the caller gave up, Redis is not at fault.
func (l *RefreshLock) Refresh(ctx context.Context, cur *session.Session, do func(ctx context.Context) (*session.Session, error)) (*session.Session, error) {
	lockKey := l.store.c.key("lock:refresh", cur.ID)
	for {
		stored, err := l.refreshedElsewhere(ctx, cur)
		if errors.Is(err, ErrUnavailable) && callerGaveUp(ctx) {
			return nil, ErrRefreshWait // gave up while asking Redis: Redis is not at fault
		}
		if l.degraded(err) {
			return do(ctx)
		}
		if stored != nil || err != nil {
			return stored, err
		}
		release, ok, err := l.store.c.tryLock(ctx, lockKey, l.cfg.LockTTL)
		if errors.Is(err, ErrUnavailable) && callerGaveUp(ctx) {
			return nil, ErrRefreshWait
		}
		if l.degraded(err) {
			return do(ctx)
		}
		if err != nil {
			return nil, err
		}
		if ok {
			return l.refreshLocked(ctx, cur, do, release)
		}
		if !sleep(ctx, l.cfg.Poll) {
			return nil, ErrRefreshWait
		}
	}
}

func (l *RefreshLock) refreshLocked(ctx context.Context, cur *session.Session, do func(ctx context.Context) (*session.Session, error), release func()) (*session.Session, error) {
	defer release()
	// Another instance may have finished between our look-up and the lock.
	// The raw value read here is what the write-back is conditional on.
	stored, prev, err := l.store.getRaw(ctx, cur.ID)
	if err != nil {
		return nil, err
	}
	if refreshedFrom(stored, cur) {
		return stored, nil
	}
	ns, err := do(ctx)
	if err != nil {
		// If our lock ran out and another instance refreshed meanwhile (our
		// refresh token was then already rotated), its result stands.
		if other, oerr := l.refreshedElsewhere(ctx, cur); other != nil || errors.Is(oerr, session.ErrNoSession) {
			return other, oerr
		}
		return nil, err
	}
	// Store before releasing the lock, so that the next holder sees the
	// new tokens and never refreshes with a rotated-out refresh token; but
	// only over the very value we refreshed: a logout or back-channel
	// logout meanwhile stays, and so does a newer refresh by an instance
	// that took over after our lock expired.
	res, err := l.store.replace(ctx, ns, prev)
	switch {
	case err != nil:
		// Redis failed after the refresh: this request gets the new tokens;
		// Redis keeps the old ones (the next refresh may need a new login).
		return ns, nil
	case res == ended:
		return nil, session.ErrNoSession
	case res == changed:
		return l.store.get(ctx, cur.ID)
	}
	return ns, nil
}

// degraded reports whether err is a Redis outage under FallbackCookie, in
// which case the session is a cookie session refreshed by this instance
// alone, as without a store.
func (l *RefreshLock) degraded(err error) bool {
	return err != nil && l.store.fallback == FallbackCookie && errors.Is(err, ErrUnavailable)
}

// refreshedElsewhere returns the stored session when its tokens differ from
// cur's (someone refreshed it), nil when it still holds cur's tokens, and
// session.ErrNoSession when it is gone.
func (l *RefreshLock) refreshedElsewhere(ctx context.Context, cur *session.Session) (*session.Session, error) {
	stored, err := l.store.get(ctx, cur.ID)
	if err != nil {
		return nil, err
	}
	if refreshedFrom(stored, cur) {
		return stored, nil
	}
	return nil, nil
}

// refreshedFrom reports whether stored is a refresh of cur (its tokens
// differ or expire later).
func refreshedFrom(stored, cur *session.Session) bool {
	return stored.RefreshToken != cur.RefreshToken || stored.AccessToken != cur.AccessToken || stored.Expiry.After(cur.Expiry)
}
