package login

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/edgeauth/caddy-edgeauth/module/session"
)

// TestSignedOutMarkCannotBeHidden: a session named by any signed-out mark
// the request carries is refused, however many junk marks come first (a
// second red-team pass hid the real mark behind four junk ones, and the
// ended session passed again). Only what logout writes back is capped.
func TestSignedOutMarkCannotBeHidden(t *testing.T) {
	e := newEnv(t, false, nil)
	s := &session.Session{ID: "ended-session"}
	junk := strings.Repeat("A", signedOutMarkLen)
	r := httptest.NewRequest("GET", "/x", nil)
	r.Header.Add("Cookie", "edgeauth_signedout="+strings.Join([]string{junk, junk, junk, junk, junk}, "."))
	r.Header.Add("Cookie", "edgeauth_signedout="+signedOutMark(s.ID))
	if !e.flow.signedOut(r, s) {
		t.Fatal("the ended session's mark was hidden behind junk marks")
	}
	w := httptest.NewRecorder()
	e.flow.markSignedOut(w, r, &session.Session{ID: "another"})
	if v := w.Result().Cookies()[0].Value; strings.Count(v, ".") != maxSignedOut-1 {
		t.Errorf("logout wrote %d marks, want at most %d", strings.Count(v, ".")+1, maxSignedOut)
	}
}
