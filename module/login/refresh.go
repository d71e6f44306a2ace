package login

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/edgeauth/caddy-edgeauth/module/session"
)

// refreshTimeout bounds one refresh, independent of the requests waiting.
const refreshTimeout = 15 * time.Second

// Session returns the request's session for a protected request, refreshed
// when it expires within the refresh margin and has a refresh token.
//
//   - no session (absent, invalid, expired, another provider's, or one
//     this browser logged out of: see signedOutTTL) → session.ErrNoSession;
//   - tokens expired and no refresh token → the session is cleared,
//     session.ErrNoSession;
//   - refresh refused by the provider, or impossible once the tokens have
//     expired → the session is cleared, ErrLoginRequired (browsers: login
//     again; APIs: 401). While the tokens are still valid, a provider that
//     is unreachable (its token endpoint, or the keys that check the new ID
//     token) leaves the session in use and it is tried again later.
//
// Refreshes are shared: concurrent requests of one session cause one call
// to the token endpoint, and requests still carrying the pre-refresh cookie
// shortly afterwards get the refreshed session too. Every request that
// obtains a refreshed session writes it to its own response. With
// FlowConfig.RefreshCoordinator the refresh is also shared across instances;
// a session ended elsewhere (also while it was being refreshed, which
// Store.Save reports as session.ErrNoSession) gives session.ErrNoSession,
// and a coordinator failure once the tokens have expired is returned as is
// (503; the session is kept).
func (f *Flow) Session(ctx context.Context, w http.ResponseWriter, r *http.Request) (*session.Session, error) {
	s, err := f.cfg.Store.Load(r)
	if err != nil {
		return nil, err
	}
	if s.Provider != f.cfg.Provider.Name() {
		return nil, session.ErrNoSession
	}
	if f.signedOut(r, s) { // a response in flight at logout set it again
		_ = f.cfg.Store.Clear(w, r)
		return nil, session.ErrNoSession
	}
	now := f.cfg.Now()
	if s.Expiry.IsZero() || now.Add(f.refreshMargin(s)).Before(s.Expiry) {
		return s, nil
	}
	if s.RefreshToken == "" {
		if now.Before(s.Expiry) {
			return s, nil
		}
		_ = f.cfg.Store.Clear(w, r)
		return nil, session.ErrNoSession
	}
	ns, err := f.refreshShared(ctx, s)
	if err != nil {
		var ce *coordinationError
		switch {
		case errors.As(err, &ce): // only with a RefreshCoordinator
			if now.Before(s.Expiry) {
				f.log.Warn("session refresh could not be coordinated; using the session until its tokens expire", zap.Error(ce.err))
				return s, nil
			}
			return nil, ce
		case errors.Is(err, session.ErrNoSession): // only with a RefreshCoordinator: ended elsewhere
			_ = f.cfg.Store.Clear(w, r)
			return nil, session.ErrNoSession
		}
		// The provider's outage (its token endpoint, or the keys to check
		// the new ID token) does not end the session before its tokens do.
		// Nothing of an answer whose ID token could not be checked is kept,
		// a rotated refresh token included: with a rotating provider the
		// next refresh is then refused and ends the session.
		if (errors.Is(err, ErrTokenEndpointUnavailable) || keysUnavailable(err)) && now.Before(s.Expiry) {
			f.log.Warn("session refresh failed; using the session until its tokens expire", zap.Error(err))
			return s, nil
		}
		f.log.Info("session refresh failed; the session is cleared", zap.Error(err))
		_ = f.cfg.Store.Clear(w, r)
		return nil, fmt.Errorf("%w: %v", ErrLoginRequired, err)
	}
	if err := f.cfg.Store.Save(w, r, ns); err != nil {
		if errors.Is(err, session.ErrNoSession) { // server-side store: ended by a logout meanwhile
			_ = f.cfg.Store.Clear(w, r)
			return nil, session.ErrNoSession
		}
		f.log.Error("cannot save the refreshed session", zap.Error(err))
	}
	return ns, nil
}

// refreshMargin is how long before its tokens expire s is refreshed: the
// configured margin, but at most half the tokens' lifetime, so that a
// provider's short-lived tokens are not refreshed on every request.
func (f *Flow) refreshMargin(s *session.Session) time.Duration {
	issued := s.RefreshedAt
	if issued.IsZero() {
		issued = s.CreatedAt
	}
	margin := f.cfg.RefreshMargin
	if life := s.Expiry.Sub(issued); life > 0 && margin > life/2 {
		margin = life / 2
	}
	return margin
}

// refreshShared refreshes s once for all concurrent callers.
func (f *Flow) refreshShared(ctx context.Context, s *session.Session) (*session.Session, error) {
	from := s.RefreshToken + "\x00" + s.AccessToken // the tokens this refresh replaces
	if ns, ok := f.recent.get(s.ID, from); ok {
		return ns.Clone(), nil
	}
	v, err, _ := f.flight.Do(s.ID, func() (any, error) {
		if ns, ok := f.recent.get(s.ID, from); ok {
			return ns, nil
		}
		// One caller's cancellation must not fail the others.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refreshTimeout)
		defer cancel()
		ns, err := f.refreshOnce(rctx, s)
		if err != nil {
			return nil, err
		}
		f.recent.put(s.ID, from, ns)
		return ns, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*session.Session).Clone(), nil
}

// refresh calls the token endpoint and builds the updated session: a
// rotated refresh token replaces the old one, a missing one keeps it; a new
// ID token is verified (same subject) and replaces the claims, a missing one
// keeps the old token and claims.
func (f *Flow) refresh(ctx context.Context, s *session.Session) (ns *session.Session, err error) {
	if f.cfg.OnRefresh != nil {
		defer func() { f.cfg.OnRefresh(err == nil) }()
	}
	meta, ok := f.cfg.Provider.Metadata()
	if !ok || meta.TokenEndpoint == "" {
		return nil, fmt.Errorf("%w: provider metadata not loaded", ErrTokenEndpointUnavailable)
	}
	tr, err := f.tokenClient(meta).Refresh(ctx, meta.TokenEndpoint, s.RefreshToken, nil)
	if err != nil {
		return nil, err
	}
	ns = s.Clone()
	ns.AccessToken = tr.AccessToken
	if tr.TokenType != "" {
		ns.TokenType = tr.TokenType
	}
	if tr.RefreshToken != "" {
		ns.RefreshToken = tr.RefreshToken
	}
	if granted, known := grantedScopes(tr); known {
		ns.Scopes = narrowed(s.Scopes, granted)
	}
	expiry := tr.Expiry
	if tr.IDToken != "" {
		id, err := f.cfg.IDTokens.Verify(ctx, tr.IDToken)
		if err != nil {
			return nil, fmt.Errorf("refreshed ID token not accepted: %w", err)
		}
		if cerr := f.checkIDToken(id, "", s.Subject); cerr != nil {
			return nil, errors.New(cerr.message)
		}
		ns.IDToken = tr.IDToken
		ns.Claims = id.Claims
		expiry = earliest(expiry, id.Expiry)
	}
	ns.Expiry = expiry
	ns.RefreshedAt = f.cfg.Now()
	return ns, nil
}

// refreshCache remembers, for a short while, the session a refresh produced,
// keyed by session ID and the tokens it replaced, so requests still
// carrying the old cookie neither refresh again (a rotated refresh token
// would be refused) nor lose the session.
type refreshCache struct {
	mu      sync.Mutex
	ttl     time.Duration
	max     int
	entries map[string]refreshEntry
}

type refreshEntry struct {
	from    string
	s       *session.Session
	expires time.Time
}

func newRefreshCache(ttl time.Duration, maxEntries int) *refreshCache {
	return &refreshCache{ttl: ttl, max: maxEntries, entries: map[string]refreshEntry{}}
}

func (c *refreshCache) get(id, from string) (*session.Session, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	if !ok || e.from != from || time.Now().After(e.expires) {
		return nil, false
	}
	return e.s, true
}

func (c *refreshCache) put(id, from string, s *session.Session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if len(c.entries) >= c.max {
		for k, e := range c.entries {
			if now.After(e.expires) {
				delete(c.entries, k)
			}
		}
		for k := range c.entries {
			if len(c.entries) < c.max {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[id] = refreshEntry{from: from, s: s, expires: now.Add(c.ttl)}
}
