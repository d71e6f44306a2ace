package integration

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// Red-team finding F11: with the cookie store, logout neither revoked the
// refresh token sealed in the cookie nor stopped a refresh already in flight
// from setting the session cookie again.

// offlineLogin is the login block of these tests: alice, with a refresh token.
const offlineLogin = "param login_hint alice\n\t\t\tparam access_type offline"

// logoutNow logs b out with a same-origin GET and requires the local logout
// (302, no session cookie left) to be done within limit.
func logoutNow(t *testing.T, b *cookieClient, what string, limit time.Duration) {
	t.Helper()
	start := time.Now()
	h := b.do(http.MethodGet, b.e.url("/oauth2/logout"), nil, "Sec-Fetch-Site: same-origin")
	if took := time.Since(start); took > limit {
		t.Errorf("%s: logout took %v, want under %v", what, took, limit)
	}
	if h.Status != http.StatusFound || len(b.sessionCookies()) != 0 {
		t.Fatalf("%s: logout %d, %d session cookies left; want 302 and none", what, h.Status, len(b.sessionCookies()))
	}
}

func TestRedTeamLogoutRevokesRefreshToken(t *testing.T) {
	const ttl = 2 * time.Second
	e := newEnv(t, demoidp.Options{AutoApprove: true, AccessTokenTTL: ttl, IDTokenTTL: ttl})
	e.startLogin(loginOpts{login: offlineLogin})
	b := e.newCookieClient("")
	b.login("/")
	loggedIn := time.Now()
	stolen := b.sessionCookies() // a copy of the sealed cookie taken before logout

	logoutNow(t, b, "logout", time.Second)
	waitFor(t, "the refresh token's revocation at the provider", 5*time.Second, func() bool { return e.idp.Counts().Revoke >= 1 })
	// A second logout without a session revokes nothing.
	logoutNow(t, b, "second logout", time.Second)

	// The copy still opens (the cookie store has no server state), but once
	// its tokens are due for refresh the provider refuses the revoked refresh
	// token and the copy is dead.
	thief := e.newCookieClient("")
	thief.setCookies(stolen)
	time.Sleep(time.Until(loggedIn.Add(ttl/2 + 300*time.Millisecond)))
	before := e.idp.Counts().Token
	resp, body := thief.api("/")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("copied cookie after logout, due for refresh: %d, want 401; %.200s", resp.StatusCode, body)
	}
	if e.idp.Counts().Token == before {
		t.Error("the copied cookie's refresh token was never presented to the provider")
	}
	if resp, _ := thief.api("/"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("copied cookie after a refused refresh: %d, want 401", resp.StatusCode)
	}
	time.Sleep(200 * time.Millisecond)
	if n := e.idp.Counts().Revoke; n != 1 {
		t.Errorf("the provider saw %d revocations, want exactly 1", n)
	}
}

func TestRedTeamLogoutWhileRevocationEndpointFails(t *testing.T) {
	e := newEnv(t, demoidp.Options{AutoApprove: true})
	e.startLogin(loginOpts{login: offlineLogin})

	// 503: the user is logged out locally anyway.
	b := e.newCookieClient("")
	b.login("/")
	e.idp.SetDown(true)
	logoutNow(t, b, "provider down", time.Second)
	waitFor(t, "the revocation attempt", 5*time.Second, func() bool { return e.idp.Counts().Revoke == 1 })
	e.idp.SetDown(false)
	if status, _ := b.userinfo(); status != http.StatusUnauthorized {
		t.Errorf("userinfo after a logout with the provider down: %d, want 401", status)
	}

	// A provider that hangs does not delay the logout either.
	b = e.newCookieClient("")
	b.login("/")
	e.idp.SetHang(time.Minute)
	logoutNow(t, b, "provider hanging", time.Second)
	waitFor(t, "the second revocation attempt", 5*time.Second, func() bool { return e.idp.Counts().Revoke == 2 })
	e.idp.SetHang(0)
	if status, _ := b.userinfo(); status != http.StatusUnauthorized {
		t.Errorf("userinfo after a logout with the provider hanging: %d, want 401", status)
	}
}

func TestRedTeamLogoutWinsOverInFlightRefresh(t *testing.T) {
	const ttl = 3 * time.Second
	e := newEnv(t, demoidp.Options{AutoApprove: true, AccessTokenTTL: ttl, IDTokenTTL: ttl, RotateRefreshTokens: true})
	e.startLogin(loginOpts{login: offlineLogin})
	b := e.newCookieClient("")
	b.login("/")
	loggedIn := time.Now()
	// Two jars stand for one browser: tab holds the request whose refresh
	// is in flight when b logs out.
	tab := e.newCookieClient("")
	tab.setCookies(b.cookies())

	time.Sleep(time.Until(loggedIn.Add(ttl/2 + 300*time.Millisecond))) // due for refresh, still valid
	e.idp.SetHang(1500 * time.Millisecond)
	before := e.idp.Counts().Token
	done := make(chan int, 1)
	go func() {
		resp, _ := tab.api("/")
		done <- resp.StatusCode
	}()
	waitFor(t, "the refresh to reach the provider", 5*time.Second, func() bool { return e.idp.Counts().Token > before })
	time.Sleep(300 * time.Millisecond) // the revocation reaches the provider after the refresh
	logoutNow(t, b, "logout during a refresh", time.Second)
	if status := <-done; status != http.StatusOK || len(tab.sessionCookies()) == 0 {
		t.Fatalf("the racing refresh: %d, %d session cookies; want 200 with the refreshed cookie (the race this test needs)", status, len(tab.sessionCookies()))
	}
	e.idp.SetHang(0)

	// The refresh response arrives after the logout response and sets the
	// refreshed session cookie in the same browser.
	u, _ := url.Parse(e.url("/"))
	b.jar.SetCookies(u, tab.sessionCookies())
	if len(b.sessionCookies()) == 0 {
		t.Fatal("test setup: the refreshed cookie did not reach the browser")
	}
	if resp, body := b.api("/"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("after logout, the late refresh response's cookie: %d, want 401; %.200s", resp.StatusCode, body)
	}
	if len(b.sessionCookies()) != 0 {
		t.Error("the resurrected session cookie was not cleared")
	}
	if status, _ := b.userinfo(); status != http.StatusUnauthorized {
		t.Errorf("userinfo after logout: %d, want 401", status)
	}

	// A new login in the same browser works.
	b.login("/")
	if status, _ := b.userinfo(); status != http.StatusOK {
		t.Errorf("userinfo after logging in again: %d, want 200", status)
	}
}
