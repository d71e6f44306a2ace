package session

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// ErrNoSession means the request carries no usable session: absent,
// tampered, truncated, sealed for another cookie or by an unknown secret, or
// expired. It is "simply not logged in", never an error page.
var ErrNoSession = errors.New("session: no session")

// Store loads, saves and clears the session of a request. The cookie store
// keeps the whole session in the cookie; a server-side store keeps it
// elsewhere and the cookie carries only a sealed session ID.
type Store interface {
	// Load returns the request's session, or ErrNoSession when there is
	// none. Other errors are infrastructure failures (e.g. a store down).
	Load(r *http.Request) (*Session, error)
	// Save writes s for the response w. It sets s.NotAfter when zero.
	Save(w http.ResponseWriter, r *http.Request, s *Session) error
	// Clear removes the request's session.
	Clear(w http.ResponseWriter, r *http.Request) error
}

// CookieStore keeps sessions in sealed, chunked cookies.
type CookieStore struct {
	sealer   *Sealer
	opts     CookieOptions
	lifetime time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	opened OpenedCache
}

// DefaultLifetime is used when NewCookieStore is given no lifetime.
const DefaultLifetime = 12 * time.Hour

// NewCookieStore returns a store sealing with sealer into cookies described
// by opts (Name defaults to "edgeauth"); sessions last lifetime from login.
func NewCookieStore(sealer *Sealer, opts CookieOptions, lifetime time.Duration) *CookieStore {
	if opts.Name == "" {
		opts.Name = "edgeauth"
	}
	if lifetime <= 0 {
		lifetime = DefaultLifetime
	}
	return &CookieStore{sealer: sealer, opts: opts, lifetime: lifetime}
}

func (c *CookieStore) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Lifetime is the configured session lifetime.
func (c *CookieStore) Lifetime() time.Duration { return c.lifetime }

// aad binds a sealed session to its cookie name and purpose.
func aad(cookieName string) []byte { return []byte("edgeauth session\x00" + cookieName) }

// Load implements Store. A cookie value opened recently is answered from a
// small cache of opened sessions (the value is authenticated, so the same
// bytes always open to the same session): a browser's repeated requests cost
// no decryption and no decoding. The session returned is shared: callers
// must not modify it (Clone first).
func (c *CookieStore) Load(r *http.Request) (*Session, error) {
	name := c.opts.ForRequest(r).CookieName()
	raw, ok := ReadChunks(r, name)
	if !ok {
		return nil, ErrNoSession
	}
	now := c.now()
	key := OpenedKey(name, raw)
	if s, ok := c.opened.Get(key, now); ok {
		return s, nil
	}
	pt, err := c.sealer.OpenAt(raw, aad(name), now)
	if err != nil {
		return nil, ErrNoSession
	}
	s, err := Decode(pt)
	if err != nil {
		return nil, ErrNoSession
	}
	if s.NotAfter.IsZero() || !now.Before(s.NotAfter) {
		return nil, ErrNoSession
	}
	c.opened.Put(key, s, now)
	return s, nil
}

// Save implements Store. The cookie expires with the session.
func (c *CookieStore) Save(w http.ResponseWriter, r *http.Request, s *Session) error {
	if s == nil || s.ID == "" {
		return errors.New("session: refusing to save a session without an ID")
	}
	now := c.now()
	if s.NotAfter.IsZero() {
		s.NotAfter = now.Add(c.lifetime)
	}
	ttl := s.NotAfter.Sub(now)
	if ttl <= 0 {
		return errors.New("session: refusing to save a session whose lifetime has ended")
	}
	pt, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("session: encoding session: %w", err)
	}
	opts := c.opts.ForRequest(r)
	opts.MaxAge = ttl
	sealed := c.sealer.SealUntil(pt, aad(opts.CookieName()), s.NotAfter)
	if err := WriteChunks(w, r, opts, sealed); err != nil {
		return fmt.Errorf("session: %w (the ID token or its claims are too large for cookies; request fewer scopes or use a server-side store)", err)
	}
	return nil
}

// Clear implements Store.
func (c *CookieStore) Clear(w http.ResponseWriter, r *http.Request) error {
	ClearChunks(w, r, c.opts)
	return nil
}

// IsSessionCookie reports whether a cookie of this name belongs to this
// store (either name form, any chunk), so the handler can strip it before
// the request goes upstream.
func (c *CookieStore) IsSessionCookie(name string) bool {
	base := c.opts.Name
	return IsChunkOf(base, name) || IsChunkOf(hostPrefix+base, name)
}

var _ Store = (*CookieStore)(nil)
