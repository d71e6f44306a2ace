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

func TestFinding8LogoutGuardIsBoundToTheSession(t *testing.T) {
	sealer, err := session.NewSealer([][]byte{session.RandomSecret()})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	f := &Flow{cfg: FlowConfig{Sealer: sealer, Now: func() time.Time { return now }}}
	alice := &session.Session{ID: "alice-session"}
	bob := &session.Session{ID: "bob-session"}
	post := func(guard string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/oauth2/logout", nil)
		r.PostForm = map[string][]string{logoutGuardField: {guard}}
		return r
	}
	g := f.logoutGuard(alice)
	if !f.confirmedLogout(httptest.NewRecorder(), post(g), alice) {
		t.Error("alice's guard does not confirm alice's logout")
	}
	if f.confirmedLogout(httptest.NewRecorder(), post(g), bob) || f.confirmedLogout(httptest.NewRecorder(), post(g), nil) {
		t.Error("alice's guard confirms another session's logout")
	}
	if f.confirmedLogout(httptest.NewRecorder(), post(f.logoutGuard(nil)), alice) {
		t.Error("a guard made without a session confirms alice's logout")
	}
	if f.confirmedLogout(httptest.NewRecorder(), post(sealer.Seal([]byte("id:alice-session"), []byte("another purpose"))), alice) {
		t.Error("a value sealed for another purpose confirms a logout")
	}
	now = now.Add(logoutGuardTTL + time.Second)
	if f.confirmedLogout(httptest.NewRecorder(), post(g), alice) {
		t.Error("an expired guard confirms a logout")
	}
	get := httptest.NewRequest(http.MethodGet, "/oauth2/logout?csrf="+f.logoutGuard(alice), nil)
	if f.confirmedLogout(httptest.NewRecorder(), get, alice) {
		t.Error("a guard in a GET query confirms a logout")
	}
}
