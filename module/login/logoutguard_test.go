package login

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/session"
)

func TestFinding8LogoutSilentlyOnlyForOwnOrigin(t *testing.T) {
	f := &Flow{cfg: FlowConfig{RedirectURL: "https://gw.example.com/oauth2/callback"}}
	cases := []struct {
		tls     bool
		headers []string // name, value pairs; repeated names add values
		want    bool
	}{
		{false, nil, true},
		{false, []string{"Sec-Fetch-Site", "same-origin"}, true},
		{false, []string{"Sec-Fetch-Site", "none"}, true},
		{false, []string{"Sec-Fetch-Site", "same-site"}, false},
		{false, []string{"Sec-Fetch-Site", "cross-site"}, false},
		{false, []string{"Sec-Fetch-Site", "same-origin", "Sec-Fetch-Site", "cross-site"}, false},
		{false, []string{"Sec-Fetch-Site", "bogus"}, false},
		{false, []string{"Origin", "http://gw.internal:8080"}, true},
		{false, []string{"Origin", "HTTP://GW.INTERNAL:8080"}, true},
		{false, []string{"Origin", "https://gw.internal:8080"}, false},
		{false, []string{"Origin", "http://gw.internal:8081"}, false},
		{false, []string{"Origin", "null"}, false},
		{false, []string{"Origin", ""}, false},
		{false, []string{"Origin", "http://gw.internal:8080", "Origin", "https://evil.example"}, false},
		{false, []string{"Origin", "http://user@gw.internal:8080"}, false},
		{false, []string{"Origin", "https://gw.example.com"}, true}, // the redirect URL's origin
		{false, []string{"Origin", "https://gw.example.com:443"}, true},
		{false, []string{"Origin", "https://evil.gw.example.com"}, false},
		{false, []string{"Referer", "http://gw.internal:8080/account?x=1"}, true},
		{false, []string{"Referer", "https://evil.example/gw.internal:8080"}, false},
		{false, []string{"Referer", "/relative"}, false},
		{false, []string{"Origin", "http://gw.internal:8080", "Referer", "https://evil.example/"}, true}, // Origin decides
		{true, []string{"Origin", "http://gw.internal:8080"}, false},
		{true, []string{"Origin", "https://gw.internal:8080"}, true},
	}
	for _, c := range cases {
		r := httptest.NewRequest(http.MethodPost, "http://gw.internal:8080/oauth2/logout", nil)
		if c.tls {
			r.TLS = &tls.ConnectionState{}
		}
		for i := 0; i+1 < len(c.headers); i += 2 {
			r.Header.Add(c.headers[i], c.headers[i+1])
		}
		if got := f.logoutSilently(r); got != c.want {
			t.Errorf("tls=%v %q: logoutSilently = %v, want %v", c.tls, c.headers, got, c.want)
		}
	}
}

func TestFinding8LogoutGuardIsBoundToTheBrowser(t *testing.T) {
	sealer, err := session.NewSealer([][]byte{session.RandomSecret()})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	f := &Flow{cfg: FlowConfig{Sealer: sealer, Now: func() time.Time { return now }, CookieName: "edgeauth",
		Secure: func(r *http.Request) bool { return r.TLS != nil }}, pending: &pendingCookies{base: "edgeauth_login_"}}
	// page renders a confirm page for a browser and returns its guard and cookie.
	page := func() (string, *http.Cookie) {
		w := httptest.NewRecorder()
		g := f.logoutGuard(w, httptest.NewRequest(http.MethodPost, "/oauth2/logout", nil))
		cs := w.Result().Cookies()
		if len(cs) != 1 || cs[0].Name != "edgeauth_logout" || cs[0].SameSite != http.SameSiteStrictMode || !cs[0].HttpOnly {
			t.Fatalf("confirm page cookies %+v, want one HttpOnly SameSite=Strict edgeauth_logout", cs)
		}
		return g, cs[0]
	}
	post := func(guard string, cookies ...*http.Cookie) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/oauth2/logout", nil)
		r.PostForm = map[string][]string{logoutGuardField: {guard}}
		for _, c := range cookies {
			r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
		return r
	}
	alice, aliceCookie := page()
	bob, bobCookie := page()
	if !f.confirmedLogout(httptest.NewRecorder(), post(alice, aliceCookie)) {
		t.Error("alice's guard with alice's cookie does not confirm")
	}
	if f.confirmedLogout(httptest.NewRecorder(), post(bob, aliceCookie)) || f.confirmedLogout(httptest.NewRecorder(), post(alice, bobCookie)) {
		t.Error("a guard confirms with another browser's cookie")
	}
	if f.confirmedLogout(httptest.NewRecorder(), post(alice)) {
		t.Error("a guard confirms without its cookie (a cross-site POST does not carry a Strict cookie)")
	}
	if f.confirmedLogout(httptest.NewRecorder(), post(aliceCookie.Value, aliceCookie)) {
		t.Error("the bare nonce confirms")
	}
	if f.confirmedLogout(httptest.NewRecorder(), post(sealer.Seal([]byte(aliceCookie.Value), []byte("another purpose")), aliceCookie)) {
		t.Error("a value sealed for another purpose confirms")
	}
	empty := &http.Cookie{Name: "edgeauth_logout", Value: ""}
	if f.confirmedLogout(httptest.NewRecorder(), post(sealer.Seal(nil, logoutGuardAAD), empty)) {
		t.Error("an empty nonce confirms")
	}
	get := httptest.NewRequest(http.MethodGet, "/oauth2/logout?csrf="+alice, nil)
	get.AddCookie(&http.Cookie{Name: aliceCookie.Name, Value: aliceCookie.Value})
	if f.confirmedLogout(httptest.NewRecorder(), get) {
		t.Error("a guard in a GET query confirms")
	}
	now = now.Add(logoutGuardTTL + time.Second)
	if f.confirmedLogout(httptest.NewRecorder(), post(alice, aliceCookie)) {
		t.Error("an expired guard confirms")
	}
	if !f.IsOwnCookie("edgeauth_logout") || !f.IsOwnCookie("__Host-edgeauth_logout") {
		t.Error("the confirm-page cookie is not stripped before proxying")
	}
}
