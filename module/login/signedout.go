package login

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/session"
)

// A logout leaves a "signed out" cookie in the browser that names the
// session it ended, and a session the cookie names is refused. With the
// cookie store the gateway keeps no state, so this is what stops a
// response that was already on its way when the logout happened (a
// refresh answering after the logout response) from signing the browser in
// again with a Set-Cookie of the ended session: the refreshed session keeps
// its ID. A new login has a new ID and is not affected.
const (
	// signedOutTTL is how long the browser remembers ended sessions; it
	// only has to outlast the responses in flight at the logout.
	signedOutTTL = 24 * time.Hour
	// maxSignedOut is how many ended sessions the cookie names.
	maxSignedOut = 4
	// signedOutMarkLen is the length of one mark (132 bits of SHA-256).
	signedOutMarkLen = 22
)

// signedOutMark names a session in the cookie without revealing its ID.
func signedOutMark(id string) string {
	sum := sha256.Sum256([]byte("edgeauth signed out\x00" + id))
	return base64.RawURLEncoding.EncodeToString(sum[:])[:signedOutMarkLen]
}

// signedOutMarks are all the well-formed marks the request's cookies carry,
// in order (the request's header size bounds them). Reading every mark
// matters for signedOut: a cookie of junk marks sent first must not hide the
// real one; only what markSignedOut writes back is capped.
func (f *Flow) signedOutMarks(r *http.Request) []string {
	name := f.auxCookieName(r, signedOutCookieSuffix)
	var marks []string
	for _, c := range r.Cookies() {
		if c.Name != name {
			continue
		}
		for m := range strings.SplitSeq(c.Value, ".") {
			if len(m) == signedOutMarkLen {
				marks = append(marks, m)
			}
		}
	}
	return marks
}

// markSignedOut adds s to the browser's signed-out cookie (keeping the
// newest maxSignedOut marks).
func (f *Flow) markSignedOut(w http.ResponseWriter, r *http.Request, s *session.Session) {
	if s == nil || s.ID == "" {
		return
	}
	marks := []string{signedOutMark(s.ID)}
	for _, m := range f.signedOutMarks(r) {
		if len(marks) < maxSignedOut && m != marks[0] {
			marks = append(marks, m)
		}
	}
	http.SetCookie(w, &http.Cookie{
		Name: f.auxCookieName(r, signedOutCookieSuffix), Value: strings.Join(marks, "."), Path: "/", MaxAge: int(signedOutTTL / time.Second),
		Secure: f.cfg.Secure(r), HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}

// signedOut reports whether the browser logged out of s.
func (f *Flow) signedOut(r *http.Request, s *session.Session) bool {
	mark := signedOutMark(s.ID)
	for _, m := range f.signedOutMarks(r) {
		if m == mark {
			return true
		}
	}
	return false
}
