package integration

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// TestRedTeamLoginCallbackOutageHasRetryAfter: when the provider's token
// endpoint is down (503) or hangs past the exchange timeout while a login
// completes, the callback answers 503 with Retry-After, like /oauth2/start
// and the bearer path, and sets no session.
func TestRedTeamLoginCallbackOutageHasRetryAfter(t *testing.T) {
	e := newEnv(t, demoidp.Options{AutoApprove: true})
	e.startLogin(loginOpts{login: "param login_hint alice"})

	begin := e.beginLogin
	check := func(name string, b *cookieClient, h hop) {
		t.Helper()
		if h.Status != http.StatusServiceUnavailable {
			t.Fatalf("%s: callback answered %d, want 503; body %.300s", name, h.Status, h.Body)
		}
		ra := h.Header.Get("Retry-After")
		if n, err := strconv.Atoi(ra); err != nil || n < 1 {
			t.Errorf("%s: Retry-After %q, want whole seconds ≥ 1", name, ra)
		}
		if setsSession(h) || len(b.sessionCookies()) != 0 {
			t.Errorf("%s: a session was set", name)
		}
	}

	b := e.newCookieClient("alice")
	cb := begin(b)
	e.idp.SetDown(true)
	check("token endpoint down", b, b.do(http.MethodGet, cb, nil))
	e.idp.SetDown(false)

	b = e.newCookieClient("alice")
	cb = begin(b)
	e.idp.SetHang(30 * time.Second)
	t0 := time.Now()
	h := b.do(http.MethodGet, cb, nil)
	e.idp.SetHang(0)
	check("token endpoint hangs", b, h)
	if d := time.Since(t0); d > 14*time.Second {
		t.Errorf("the hung exchange took %v", d)
	}

	// The provider is back: a new login completes.
	e.newCookieClient("alice").login("/")
}
