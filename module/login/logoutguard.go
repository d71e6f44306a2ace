package login

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// logoutGuardField is the confirm form's field that carries the guard.
const logoutGuardField = "csrf"

// logoutGuardTTL is how long a confirm page's button works.
const logoutGuardTTL = 10 * time.Minute

// logoutNonceBytes is the size of the confirm-page nonce; logoutNonceLen
// its length in base64url.
const (
	logoutNonceBytes = 18
	logoutNonceLen   = logoutNonceBytes * 4 / 3
)

// maxLogoutForm bounds the body read from a logout POST.
const maxLogoutForm = 8 << 10

// logoutGuardAAD binds guards to their purpose.
var logoutGuardAAD = []byte("edgeauth logout confirm")

// logoutSilently reports whether r may log out without confirmation: it
// comes from one of the gateway's own pages, from the user (address bar,
// bookmark), or from a client that is not a browser. Browsers say where a
// request comes from in Sec-Fetch-Site and, for POST and CORS requests, in
// Origin; other sites cannot forge either. So:
//   - every Sec-Fetch-Site value must be same-origin or none (same-site
//     is refused: a sibling subdomain is another party);
//   - every Origin must be the gateway's own (Origin: null is refused);
//   - without Origin, every Referer must be on the gateway's own origin.
//
// A request with none of the three headers (curl, scripts) logs out.
func (f *Flow) logoutSilently(r *http.Request) bool {
	for _, v := range r.Header.Values("Sec-Fetch-Site") {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "same-origin", "none":
		default:
			return false
		}
	}
	origins := r.Header.Values("Origin")
	for _, o := range origins {
		if !f.ownOrigin(r, strings.TrimSpace(o)) {
			return false
		}
	}
	if len(origins) == 0 {
		for _, ref := range r.Header.Values("Referer") {
			if !f.ownOrigin(r, strings.TrimSpace(ref)) {
				return false
			}
		}
	}
	return true
}

// ownOrigin reports whether an Origin or Referer value names the gateway's
// own origin: the request's scheme and Host, or the origin of the fixed
// redirect URL.
func (f *Flow) ownOrigin(r *http.Request, value string) bool {
	u, err := url.Parse(value)
	if err != nil || u.Host == "" || u.User != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	got := canonicalOrigin(u.Scheme, u.Host)
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if got == canonicalOrigin(scheme, r.Host) {
		return true
	}
	if f.cfg.RedirectURL != "" {
		if ru, err := url.Parse(f.cfg.RedirectURL); err == nil && got == canonicalOrigin(ru.Scheme, ru.Host) {
			return true
		}
	}
	return false
}

// canonicalOrigin is scheme://host lower-cased, without the scheme's
// default port.
func canonicalOrigin(scheme, host string) string {
	scheme, host = strings.ToLower(scheme), strings.ToLower(host)
	switch {
	case scheme == "https" && strings.HasSuffix(host, ":443"):
		host = strings.TrimSuffix(host, ":443")
	case scheme == "http" && strings.HasSuffix(host, ":80"):
		host = strings.TrimSuffix(host, ":80")
	}
	return scheme + "://" + host
}

// The flow's own cookies beside the session: the confirm page's guard
// cookie and the signed-out marks.
const (
	logoutCookieSuffix    = "_logout"
	signedOutCookieSuffix = "_signedout"
)

// auxCookieName is "<cookie name><suffix>", with __Host- when Secure.
func (f *Flow) auxCookieName(r *http.Request, suffix string) string {
	name := f.cfg.CookieName + suffix
	if f.cfg.Secure(r) {
		name = "__Host-" + name
	}
	return name
}

// isAuxCookie reports whether a cookie name is "<cookie name><suffix>",
// with or without __Host-.
func (f *Flow) isAuxCookie(name, suffix string) bool {
	return strings.TrimPrefix(name, "__Host-") == f.cfg.CookieName+suffix
}

// logoutGuard returns a guard for the confirm form and sets the cookie it is
// bound to: a random nonce, in an HttpOnly SameSite=Strict cookie (which
// browsers store from a top-level navigation, also a cross-site one, but send
// only on same-site requests) and, sealed with the session secrets, in the
// guard. Another site can neither read the guard from the page nor make the
// browser send the cookie, and a guard from another browser does not match
// this browser's nonce.
//
// A nonce the browser already sends is reused, so that a second confirm
// page (another tab) does not void the first one's button.
func (f *Flow) logoutGuard(w http.ResponseWriter, r *http.Request) string {
	name := f.auxCookieName(r, logoutCookieSuffix)
	var nonce string
	if c, err := r.Cookie(name); err == nil && len(c.Value) == logoutNonceLen {
		nonce = c.Value
	} else {
		nonce = randomToken(logoutNonceBytes)
	}
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: nonce, Path: "/", MaxAge: int(logoutGuardTTL / time.Second),
		Secure: f.cfg.Secure(r), HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
	return f.cfg.Sealer.SealUntil([]byte(nonce), logoutGuardAAD, f.cfg.Now().Add(logoutGuardTTL))
}

// confirmedLogout reports whether r is a POST of the confirm form whose
// guard (from the body, never the query) opens and matches the browser's
// confirm-page cookie.
func (f *Flow) confirmedLogout(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodPost {
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxLogoutForm)
	if r.ParseForm() != nil {
		return false
	}
	guard := r.PostForm[logoutGuardField]
	if len(guard) != 1 {
		return false
	}
	nonce, err := f.cfg.Sealer.OpenAt(guard[0], logoutGuardAAD, f.cfg.Now())
	if err != nil || len(nonce) == 0 {
		return false
	}
	name := f.auxCookieName(r, logoutCookieSuffix)
	for _, c := range r.Cookies() {
		if c.Name == name && subtle.ConstantTimeCompare(nonce, []byte(c.Value)) == 1 {
			return true
		}
	}
	return false
}

// expireLogoutCookie deletes the confirm-page cookie when r carries it.
func (f *Flow) expireLogoutCookie(w http.ResponseWriter, r *http.Request) {
	for _, c := range r.Cookies() {
		if f.isAuxCookie(c.Name, logoutCookieSuffix) {
			http.SetCookie(w, &http.Cookie{
				Name: c.Name, Value: "", Path: "/", MaxAge: -1,
				Secure: f.cfg.Secure(r) || strings.HasPrefix(c.Name, "__Host-"), HttpOnly: true, SameSite: http.SameSiteStrictMode,
			})
			return
		}
	}
}
