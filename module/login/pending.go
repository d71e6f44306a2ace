package login

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/session"
)

// PendingLogin is what a login remembers between the redirect to the
// provider and the callback. It lives in its own sealed cookie, named after
// a hash of the state, so several tabs can log in at once.
type PendingLogin struct {
	State    string    `json:"st"`
	Nonce    string    `json:"n"`
	Verifier string    `json:"v"`
	Return   string    `json:"r"`
	Provider string    `json:"p"`
	Scopes   []string  `json:"sc,omitempty"`
	Created  time.Time `json:"c"`
	// Attempt is 0 for a plain login and 1 for a step-up login that asks
	// for scopes a route needs (incremental authorization).
	Attempt int `json:"a,omitempty"`
	// RedirectURI is the redirect_uri sent, reused verbatim at the callback.
	RedirectURI string `json:"ru"`
}

// pendingCookies manages the pending-login cookies.
type pendingCookies struct {
	sealer *session.Sealer
	// base is "<cookie name>_login_"; the state hash follows.
	base   string
	ttl    time.Duration
	max    int
	secure func(*http.Request) bool
}

func (p *pendingCookies) opts(r *http.Request, state string) session.CookieOptions {
	sum := sha256.Sum256([]byte(state))
	return session.CookieOptions{
		Name:     p.base + hex.EncodeToString(sum[:4]),
		Path:     "/",
		Secure:   p.secure(r),
		SameSite: http.SameSiteLaxMode, // must survive the top-level redirect back from the provider
		MaxAge:   p.ttl,
	}
}

func pendingAAD(name string) []byte { return []byte("edgeauth pending login\x00" + name) }

// isPending reports whether a cookie name is a pending-login cookie.
func (p *pendingCookies) isPending(name string) bool {
	name = strings.TrimPrefix(name, "__Host-")
	rest, ok := strings.CutPrefix(name, p.base)
	return ok && len(rest) == 8
}

// write stores pl in its cookie, first expiring unreadable pending cookies
// and the oldest ones so that at most p.max remain.
func (p *pendingCookies) write(w http.ResponseWriter, r *http.Request, pl *PendingLogin) error {
	type found struct {
		name    string
		created time.Time
	}
	var live []found
	for _, c := range r.Cookies() {
		if !p.isPending(c.Name) {
			continue
		}
		pt, err := p.sealer.OpenAt(c.Value, pendingAAD(c.Name), pl.Created)
		var old PendingLogin
		if err != nil || json.Unmarshal(pt, &old) != nil {
			p.expire(w, r, c.Name)
			continue
		}
		live = append(live, found{c.Name, old.Created})
	}
	if extra := len(live) - (p.max - 1); extra > 0 {
		slices.SortFunc(live, func(a, b found) int { return a.created.Compare(b.created) })
		for _, f := range live[:extra] {
			p.expire(w, r, f.name)
		}
	}
	o := p.opts(r, pl.State)
	name := o.CookieName()
	pt, err := json.Marshal(pl)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    p.sealer.SealUntil(pt, pendingAAD(name), pl.Created.Add(p.ttl)),
		Path:     o.Path,
		MaxAge:   int(p.ttl / time.Second),
		Secure:   o.Secure,
		HttpOnly: true,
		SameSite: o.SameSite,
	})
	return nil
}

// expire deletes a pending cookie by its full name.
func (p *pendingCookies) expire(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: "", Path: "/", MaxAge: -1,
		Secure: p.secure(r) || strings.HasPrefix(name, "__Host-"), HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}

// take returns the pending login for state and expires its cookie (one use).
// It reports false when the cookie is absent, unreadable, expired, or does
// not match state.
func (p *pendingCookies) take(w http.ResponseWriter, r *http.Request, state string, now time.Time) (*PendingLogin, bool) {
	if state == "" || len(state) > 512 {
		return nil, false
	}
	name := p.opts(r, state).CookieName()
	c, err := r.Cookie(name)
	if err != nil {
		return nil, false
	}
	p.expire(w, r, name)
	pt, err := p.sealer.OpenAt(c.Value, pendingAAD(name), now)
	if err != nil {
		return nil, false
	}
	var pl PendingLogin
	if json.Unmarshal(pt, &pl) != nil || subtle.ConstantTimeCompare([]byte(pl.State), []byte(state)) != 1 {
		return nil, false
	}
	if now.Sub(pl.Created) > p.ttl || pl.Created.After(now.Add(time.Minute)) {
		return nil, false
	}
	return &pl, true
}

// clearAll expires every pending-login cookie the request carries.
func (p *pendingCookies) clearAll(w http.ResponseWriter, r *http.Request) {
	for _, c := range r.Cookies() {
		if p.isPending(c.Name) {
			p.expire(w, r, c.Name)
		}
	}
}
