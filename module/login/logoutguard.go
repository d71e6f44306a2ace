package login

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/session"
)

// logoutGuardField is the confirm form's field that carries the guard.
const logoutGuardField = "csrf"

// logoutGuardTTL is how long a confirm page's button works.
const logoutGuardTTL = 10 * time.Minute

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

// logoutGuard returns a guard for the confirm form: the session's binding,
// sealed with the session secrets and valid for logoutGuardTTL. Another
// site can neither read it from the page nor use one made for another
// session.
func (f *Flow) logoutGuard(s *session.Session) string {
	return f.cfg.Sealer.SealUntil([]byte(guardBinding(s)), logoutGuardAAD, f.cfg.Now().Add(logoutGuardTTL))
}

// confirmedLogout reports whether r is a POST of the confirm form with a
// guard made for the session r carries (or for no session, when it carries
// none).
func (f *Flow) confirmedLogout(w http.ResponseWriter, r *http.Request, s *session.Session) bool {
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
	pt, err := f.cfg.Sealer.OpenAt(guard[0], logoutGuardAAD, f.cfg.Now())
	return err == nil && subtle.ConstantTimeCompare(pt, []byte(guardBinding(s))) == 1
}

// guardBinding names the session a guard belongs to: its random ID (never
// shown, since guards are sealed), or for a session without one its
// provider, subject and login time; "none" without a session.
func guardBinding(s *session.Session) string {
	switch {
	case s == nil:
		return "none"
	case s.ID != "":
		return "id:" + s.ID
	}
	return "sub:" + s.Provider + "\x00" + s.Subject + "\x00" + strconv.FormatInt(s.CreatedAt.Unix(), 10)
}
