package integration

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// The login tests drive the browser flow through Caddy and the demo provider
// with the cookie client of cookieclient_test.go (cookieClient);
// loginsetup_test.go builds their Caddyfile.

// authorizeQuery checks that a 302 goes to the provider's authorization
// endpoint and returns its query.
func (e *env) authorizeQuery(resp *http.Response) url.Values {
	e.t.Helper()
	if resp.StatusCode != http.StatusFound {
		e.t.Fatalf("status %d, want 302 to the provider", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		e.t.Fatal(err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != e.idp.Issuer()+demoidp.PathAuthorize {
		e.t.Fatalf("redirect to %s, want the authorization endpoint %s", got, e.idp.Issuer()+demoidp.PathAuthorize)
	}
	return loc.Query()
}

// ---------------------------------------------------------------------------

func TestLoginFullFlowWithLoginHint(t *testing.T) {
	e := newEnv(t, demoidp.Options{AutoApprove: true})
	e.startLogin(loginOpts{login: "param login_hint alice"})
	b := e.newCookieClient("") // never types a password: login_hint + AutoApprove
	u, _ := url.Parse(e.url("/"))
	b.jar.SetCookies(u, []*http.Cookie{{Name: "app", Value: "keep-me", Path: "/"}})

	hops := b.login("/orders/42?x=1")
	end := last(hops)
	if end.URL.Path != "/orders/42" || end.URL.RawQuery != "x=1" {
		t.Errorf("login ended at %s, want the original /orders/42?x=1", end.URL.RequestURI())
	}
	if !bytes.Contains(end.Body, []byte("alice@example.onaliyun.com")) {
		t.Errorf("the upstream's HTML page does not show alice's upn: %.400s", end.Body)
	}
	for _, h := range hops {
		if h.URL.Host != u.Host {
			continue
		}
		for _, sc := range h.SetCookies {
			lower := strings.ToLower(sc)
			if !strings.Contains(lower, "httponly") || !strings.Contains(lower, "samesite=lax") {
				t.Errorf("cookie without HttpOnly or SameSite=Lax: %.60s…", sc)
			}
		}
	}

	got := e.upstreamSaw(b.api("/whoami"))
	want := map[string]string{
		"X-Auth-Subject":    "2000000000000002",
		"X-Auth-Issuer":     e.idp.Issuer(),
		"X-Auth-Upn":        "alice@example.onaliyun.com",
		"X-Auth-Name":       "Alice Liddell",
		"X-Auth-Email":      "alice@example.com",
		"X-Auth-Account-Id": demoidp.DemoAccountID,
		"X-Auth-User-Type":  "user",
		"X-Auth-Scopes":     "openid profile aliuid email",
	}
	for name, value := range want {
		if got.header(name) != value {
			t.Errorf("upstream header %s = %q, want %q", name, got.header(name), value)
		}
	}
	if c := got.header("Cookie"); c != "app=keep-me" {
		t.Errorf("upstream Cookie header = %q, want only the app's own cookie app=keep-me", c)
	}
	if len(b.sessionCookies()) == 0 {
		t.Fatal("no session cookie in the jar after login")
	}

	// A client-supplied identity header next to a valid session is replaced.
	got = e.upstreamSaw(b.api("/", "X-Auth-Upn: root@evil", "X_Auth_Subject: 1"))
	if got.header("X-Auth-Upn") != "alice@example.onaliyun.com" || got.header("X_Auth_Subject") != "" {
		t.Errorf("spoofed identity headers reached the upstream: upn=%q", got.header("X-Auth-Upn"))
	}

	// userinfo with and without a session.
	status, info := b.userinfo()
	if status != http.StatusOK || info["sub"] != "2000000000000002" || info["provider"] != "demo" || info["iss"] != e.idp.Issuer() {
		t.Errorf("userinfo with a session: %d %v", status, info)
	}
	if claims, _ := info["claims"].(map[string]any); claims["upn"] != "alice@example.onaliyun.com" {
		t.Errorf("userinfo claims = %v, want alice's upn", info["claims"])
	}
	resp, body := e.get("/oauth2/userinfo", "")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("userinfo without a session: %d %q %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
	}
}

func TestLoginAPIRequestsGet401BrowsersGetRedirect(t *testing.T) {
	e := newEnv(t, demoidp.Options{})
	e.startLogin(loginOpts{})

	for _, tc := range []struct {
		name    string
		method  string
		headers []string
	}{
		{"no Accept", http.MethodGet, nil},
		{"JSON", http.MethodGet, []string{"Accept: application/json"}},
		{"XHR wanting HTML", http.MethodGet, []string{"Accept: text/html", "X-Requested-With: XMLHttpRequest"}},
		{"fetch() wanting HTML", http.MethodGet, []string{"Accept: text/html", "Sec-Fetch-Mode: cors"}},
		{"POST form", http.MethodPost, []string{"Accept: text/html"}},
	} {
		req, _ := http.NewRequest(tc.method, e.url("/app"), nil)
		for _, h := range tc.headers {
			n, v, _ := strings.Cut(h, ":")
			req.Header.Set(n, strings.TrimSpace(v))
		}
		resp, body := e.do(req)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401; body %s", tc.name, resp.StatusCode, body)
			continue
		}
		if wa := resp.Header.Get("WWW-Authenticate"); wa != fmt.Sprintf(`Bearer realm="127.0.0.1:%d"`, e.port) {
			t.Errorf("%s: WWW-Authenticate %q", tc.name, wa)
		}
	}

	resp, _ := e.get("/app/page?q=1", "", "Accept: text/html", "Sec-Fetch-Mode: navigate", "X-Forwarded-Host: evil.example", "X-Forwarded-Proto: https")
	q := e.authorizeQuery(resp)
	checks := map[string]string{
		"response_type":         "code",
		"code_challenge_method": "S256",
		"client_id":             demoidp.DefaultClientID,
		"scope":                 "openid profile aliuid email",
		"redirect_uri":          fmt.Sprintf("http://127.0.0.1:%d/oauth2/callback", e.port),
	}
	for k, want := range checks {
		if q.Get(k) != want {
			t.Errorf("authorize parameter %s = %q, want %q", k, q.Get(k), want)
		}
	}
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if len(q.Get(k)) < 22 {
			t.Errorf("authorize parameter %s = %q, want a random value", k, q.Get(k))
		}
	}
	if q.Get("state") == q.Get("nonce") {
		t.Error("state and nonce are the same value")
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("login redirect Cache-Control = %q, want no-store", resp.Header.Get("Cache-Control"))
	}
	var pending bool
	for _, c := range resp.Cookies() {
		if strings.HasPrefix(c.Name, "edgeauth_login_") && c.HttpOnly && c.Value != "" {
			pending = true
		}
	}
	if !pending {
		t.Errorf("no HttpOnly pending-login cookie set: %q", resp.Header.Values("Set-Cookie"))
	}

	// A second navigation gets fresh state, nonce and PKCE.
	q2 := e.authorizeQuery(func() *http.Response { r, _ := e.get("/app", "", "Accept: text/html"); return r }())
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if q.Get(k) == q2.Get(k) {
			t.Errorf("%s repeats across logins", k)
		}
	}
}

func TestLoginRedirectURLOption(t *testing.T) {
	e := newEnv(t, demoidp.Options{AutoApprove: true})
	cb := fmt.Sprintf("http://localhost:%d/oauth2/callback", e.port)
	e.startLogin(loginOpts{login: "redirect_url " + cb})
	resp, _ := e.get("/", "", "Accept: text/html")
	if q := e.authorizeQuery(resp); q.Get("redirect_uri") != cb {
		t.Errorf("redirect_uri = %q, want the configured %q", q.Get("redirect_uri"), cb)
	}
}

func TestLoginCustomPrefix(t *testing.T) {
	e := newEnv(t, demoidp.Options{AutoApprove: true})
	e.startLogin(loginOpts{loginArgs: "/auth/", login: "param login_hint alice"})
	resp, _ := e.get("/", "", "Accept: text/html")
	if q := e.authorizeQuery(resp); q.Get("redirect_uri") != fmt.Sprintf("http://127.0.0.1:%d/auth/callback", e.port) {
		t.Errorf("redirect_uri = %q, want the /auth/ prefix", q.Get("redirect_uri"))
	}
	b := e.newCookieClient("")
	b.login("/x")
	resp, _ = b.api("/auth/userinfo")
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/auth/userinfo: %d, want 200", resp.StatusCode)
	}
	// /oauth2/ is now an ordinary protected path that goes upstream.
	got := e.upstreamSaw(b.api("/oauth2/userinfo"))
	if got.Path != "/oauth2/userinfo" {
		t.Errorf("upstream saw %q", got.Path)
	}
}

func TestLoginFormAndConsent(t *testing.T) {
	e := newEnv(t, demoidp.Options{})
	e.startLogin(loginOpts{})
	b := e.newCookieClient("root")
	b.login("/")
	got := e.upstreamSaw(b.api("/"))
	if got.header("X-Auth-User-Type") != "account" || got.header("X-Auth-Login-Name") != "owner@example.com" {
		t.Errorf("root's identity not injected: %v", got.Headers)
	}

	// Denying consent is a 403 page and no session.
	d := e.newCookieClient("alice")
	d.consent = "deny"
	hops := d.navigate(e.url("/"))
	end := last(hops)
	if end.Status != http.StatusForbidden || !bytes.Contains(end.Body, []byte("access_denied")) {
		t.Errorf("denied consent: %d %s", end.Status, end.Body)
	}
	if setsSession(end) || len(d.sessionCookies()) != 0 {
		t.Error("a denied login set a session")
	}
}

func TestLoginParallelTabs(t *testing.T) {
	e := newEnv(t, demoidp.Options{AutoApprove: true})
	e.startLogin(loginOpts{login: "param login_hint alice"})
	b := e.newCookieClient("")

	// Start four logins in four tabs, each stopping at the provider's
	// redirect back (the callback URL), then finish them in another order.
	const n = 4
	callbacks := make([]string, n)
	for i := range n {
		start := b.do(http.MethodGet, e.url(fmt.Sprintf("/tab/%d", i)), nil)
		if start.Status != http.StatusFound {
			t.Fatalf("tab %d: %d", i, start.Status)
		}
		back := b.do(http.MethodGet, start.Location, nil)
		if back.Status != http.StatusFound || !strings.Contains(back.Location, "/oauth2/callback?") {
			t.Fatalf("tab %d: the provider did not redirect back: %d", i, back.Status)
		}
		callbacks[i] = back.Location
	}
	for _, i := range []int{2, 0, 3, 1} {
		h := b.do(http.MethodGet, callbacks[i], nil)
		if h.Status != http.StatusFound || h.Location != fmt.Sprintf("/tab/%d", i) {
			t.Errorf("tab %d: callback answered %d → %q, want 302 to /tab/%d; body %s", i, h.Status, h.Location, i, h.Body)
		}
		if !setsSession(h) {
			t.Errorf("tab %d: callback set no session", i)
		}
	}
	e.upstreamSaw(b.api("/"))
	for _, c := range b.cookies() {
		if strings.HasPrefix(c.Name, "edgeauth_login_") {
			t.Errorf("pending-login cookie %s left behind", c.Name)
		}
	}
}

// beginLogin starts a login in b (with login_hint and an auto-approving
// provider) and returns the callback URL the provider sends the browser to;
// the code is not redeemed yet.
func (e *env) beginLogin(b *cookieClient) string {
	e.t.Helper()
	start := b.do(http.MethodGet, e.url("/"), nil)
	back := b.do(http.MethodGet, start.Location, nil)
	if back.Status != http.StatusFound || back.Location == "" {
		e.t.Fatalf("provider answered %d", back.Status)
	}
	return back.Location
}

func TestLoginStateTamperingAndReplay(t *testing.T) {
	e := newEnv(t, demoidp.Options{AutoApprove: true})
	e.startLogin(loginOpts{login: "param login_hint alice"})

	begin := e.beginLogin
	refused := func(name string, b *cookieClient, h hop, hadSession bool) {
		t.Helper()
		if h.Status < 400 || h.Status > 499 {
			t.Errorf("%s: callback answered %d, want a 4xx page; body %s", name, h.Status, h.Body)
		}
		if ct := h.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("%s: Content-Type %q, want an HTML page", name, ct)
		}
		if setsSession(h) || (!hadSession && len(b.sessionCookies()) != 0) {
			t.Errorf("%s: a session was set", name)
		}
		if bytes.Contains(h.Body, []byte(demoidp.DefaultClientSecret)) {
			t.Errorf("%s: the page leaks the client secret", name)
		}
	}
	with := func(cb, key, value string) string {
		u, _ := url.Parse(cb)
		q := u.Query()
		if value == "" {
			q.Del(key)
		} else {
			q.Set(key, value)
		}
		u.RawQuery = q.Encode()
		return u.String()
	}

	b := e.newCookieClient("")
	cb := begin(b)
	u, _ := url.Parse(cb)
	state := u.Query().Get("state")
	refused("tampered state", b, b.do(http.MethodGet, with(cb, "state", state[:len(state)-2]+"xy"), nil), false)
	refused("no state", b, b.do(http.MethodGet, with(cb, "state", ""), nil), false)

	b = e.newCookieClient("")
	cb = begin(b)
	refused("wrong iss", b, b.do(http.MethodGet, with(cb, "iss", "https://evil.example"), nil), false)

	b = e.newCookieClient("")
	cb = begin(b)
	refused("tampered code", b, b.do(http.MethodGet, with(cb, "code", "AAAA"+strings.Repeat("b", 40)), nil), false)

	// A callback in a browser that did not start the login (login CSRF).
	b = e.newCookieClient("")
	cb = begin(b)
	victim := e.newCookieClient("")
	refused("other browser", victim, victim.do(http.MethodGet, cb, nil), false)

	// Replay: the same callback URL twice in one browser.
	b = e.newCookieClient("")
	cb = begin(b)
	pending := b.cookies()
	first := b.do(http.MethodGet, cb, nil)
	if first.Status != http.StatusFound || !setsSession(first) {
		t.Fatalf("the genuine callback failed: %d %s", first.Status, first.Body)
	}
	refused("replayed callback (same browser)", b, b.do(http.MethodGet, cb, nil), true)
	replay := e.newCookieClient("")
	refused("replayed callback (other browser)", replay, replay.do(http.MethodGet, cb, nil), false)
	// Even with the pending cookie captured too, the code is spent.
	replay.setCookies(pending)
	refused("replayed callback with the captured pending cookie", replay, replay.do(http.MethodGet, cb, nil), false)

	// Provider errors (error=…) on a valid state are 4xx pages too.
	b = e.newCookieClient("")
	cb = begin(b)
	refused("provider error", b, b.do(http.MethodGet, with(with(cb, "code", ""), "error", "server_error"), nil), false)
}

func TestLoginOpenRedirects(t *testing.T) {
	e := newEnv(t, demoidp.Options{AutoApprove: true})
	e.startLogin(loginOpts{login: "param login_hint alice"})
	site := fmt.Sprintf("127.0.0.1:%d", e.port)

	// rd values as they appear in the query string (already URL-encoded).
	for _, rd := range []string{
		url.QueryEscape("//evil.com"),
		url.QueryEscape(`/\evil.com`),
		url.QueryEscape(`\\evil.com`),
		url.QueryEscape("https://evil.com"),
		url.QueryEscape("https:evil.com"),
		url.QueryEscape("/%2f%2fevil.com"),
		"%2F%2Fevil.com",
		"/%2F%2Fevil.com",
		url.QueryEscape("%2F%2Fevil.com"),
		url.QueryEscape("/%5cevil.com"),
		"/%5Cevil.com",
		url.QueryEscape("/%252f%252fevil.com"),
		url.QueryEscape("/%25252f%25252fevil.com"),
		url.QueryEscape("javascript:alert(1)"),
		url.QueryEscape("JaVaScRiPt:alert(1)"),
		url.QueryEscape("data:text/html,<script>alert(1)</script>"),
		url.QueryEscape(" /x"),
		url.QueryEscape("\t/x"),
		url.QueryEscape("/\t/evil.com"),
		url.QueryEscape("/x\r\nSet-Cookie: a=b"),
		"%2Fx%0D%0ASet-Cookie:%20a=b",
		url.QueryEscape("/\x00/evil.com"),
		url.QueryEscape("evil.com"),
		url.QueryEscape("//user@evil.com"),
		url.QueryEscape("/／evil.com"),
	} {
		b := e.newCookieClient("")
		hops := b.navigate(e.url("/oauth2/start?rd=" + rd))
		end := last(hops)
		if end.URL.Host != site || end.Status != http.StatusOK {
			t.Errorf("rd=%s: ended at %s (%d), want this site%s", rd, end.URL.Redacted(), end.Status, describeHops(hops))
			continue
		}
		if end.URL.Path != "/" {
			t.Errorf("rd=%s: refused value should land on /, landed on %q", rd, end.URL.Path)
		}
		for _, h := range hops {
			for _, sc := range h.SetCookies {
				if strings.HasPrefix(sc, "a=") {
					t.Errorf("rd=%s: header injection set cookie %q", rd, sc)
				}
			}
			if h.URL.Host == site && h.Location != "" && !strings.HasPrefix(h.Location, "https://127.0.0.1") &&
				(!strings.HasPrefix(h.Location, "/") || strings.HasPrefix(h.Location, "//") || strings.ContainsAny(h.Location, "\\\r\n\t ")) {
				t.Errorf("rd=%s: unsafe Location %q", rd, h.Location)
			}
		}
	}

	// Good return paths are kept (query included), so the above can fail.
	b := e.newCookieClient("")
	end := last(b.navigate(e.url("/oauth2/start?rd=" + url.QueryEscape("/reports/q?year=2024&x=%2F"))))
	if end.URL.Path != "/reports/q" || end.URL.RawQuery != "year=2024&x=%2F" {
		t.Errorf("a same-site rd was not honoured: ended at %s", end.URL.RequestURI())
	}

	// The implicit return path (the URL a browser navigated to) follows the
	// same rules.
	b = e.newCookieClient("")
	hops := b.navigate(fmt.Sprintf("http://%s//evil.com/x", site))
	if end := last(hops); end.URL.Host != site {
		t.Errorf("navigation to //evil.com/x ended at %s%s", end.URL.Host, describeHops(hops))
	}
}

func TestLoginCookieTampering(t *testing.T) {
	e := newEnv(t, demoidp.Options{AutoApprove: true})
	e.startLogin(loginOpts{login: "param login_hint alice"})
	b := e.newCookieClient("")
	b.login("/")
	good := b.cookies()
	e.upstreamSaw(b.api("/"))

	noSession := func(name string) {
		t.Helper()
		resp, body := b.api("/")
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: API request answered %d, want 401 (no session); body %.200s", name, resp.StatusCode, body)
		}
		if status, _ := b.userinfo(); status != http.StatusUnauthorized {
			t.Errorf("%s: userinfo answered %d, want 401", name, status)
		}
		h := b.do(http.MethodGet, e.url("/page"), nil)
		if h.Status != http.StatusFound || !strings.HasPrefix(h.Location, e.idp.Issuer()) {
			t.Errorf("%s: browser navigation answered %d → %q, want a new login", name, h.Status, h.Location)
		}
	}
	mutate := func(f func(c *http.Cookie)) []*http.Cookie {
		var out []*http.Cookie
		for _, c := range good {
			cc := *c
			if cc.Name == "edgeauth" {
				f(&cc)
			}
			out = append(out, &cc)
		}
		return out
	}
	for i, pos := range []int{2, 10, 40, -1} {
		b.setCookies(mutate(func(c *http.Cookie) {
			v := []byte(c.Value)
			p := pos
			if p < 0 {
				p = len(v) - 1
			}
			// Swap to another base64url character at this position.
			if v[p] == 'A' {
				v[p] = 'B'
			} else {
				v[p] = 'A'
			}
			c.Value = string(v)
		}))
		noSession(fmt.Sprintf("flipped byte %d", i))
	}
	b.setCookies(mutate(func(c *http.Cookie) { c.Value = c.Value[:len(c.Value)/2] }))
	noSession("truncated")
	b.setCookies(mutate(func(c *http.Cookie) { c.Value = "1.AAAA" }))
	noSession("garbage")

	// The untouched cookies still work, so the checks above can fail.
	b.setCookies(good)
	e.upstreamSaw(b.api("/"))
}

func TestLoginChunksLargeSessions(t *testing.T) {
	users := demoidp.DefaultUsers()
	long := demoidp.User{
		Username: "long", Password: "long-pass", Subject: "2000000000000099", Type: "user",
		Name: "L" + strings.Repeat("o", 3500) + "ng", UPN: "long@example.onaliyun.com",
		Email: "long@example.com", AccountID: demoidp.DemoAccountID, UID: "2000000000000099",
		Scopes: []string{"openid", "aliuid", "profile", "email"},
	}
	e := newEnv(t, demoidp.Options{AutoApprove: true, Users: append(users, long)})
	e.startLogin(loginOpts{})
	b := e.newCookieClient("long")
	hops := b.login("/")

	var callback hop
	for _, h := range hops {
		if h.URL.Path == "/oauth2/callback" {
			callback = h
		}
	}
	var chunks int
	for _, sc := range callback.SetCookies {
		if len(sc) >= 4096 {
			t.Errorf("Set-Cookie of %d bytes, want < 4096: %.40s…", len(sc), sc)
		}
		if strings.HasPrefix(sc, "edgeauth=") || regexp.MustCompile(`^edgeauth_[0-9]+=.`).MatchString(sc) {
			chunks++
		}
	}
	if chunks < 3 {
		t.Fatalf("session written in %d cookies, want it chunked into several (the token is over 8 KB)", chunks)
	}
	got := e.upstreamSaw(b.api("/"))
	if got.header("X-Auth-Name") != long.Name {
		t.Errorf("X-Auth-Name has %d bytes, want the long name (%d bytes)", len(got.header("X-Auth-Name")), len(long.Name))
	}
	if c := got.header("Cookie"); c != "" {
		t.Errorf("chunks reached the upstream: Cookie of %d bytes", len(c))
	}

	// Missing one chunk is no session.
	all := b.cookies()
	var without []*http.Cookie
	for _, c := range all {
		if c.Name != "edgeauth_1" {
			without = append(without, c)
		}
	}
	b.setCookies(without)
	if resp, _ := b.api("/"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("with a chunk missing: %d, want 401", resp.StatusCode)
	}

	// Logout expires every chunk.
	b.setCookies(all)
	if h := b.do(http.MethodGet, e.url("/oauth2/logout"), nil, "Sec-Fetch-Site: same-origin"); h.Status != http.StatusFound || len(b.sessionCookies()) != 0 {
		t.Errorf("logout of a chunked session: %d, %d session cookies left", h.Status, len(b.sessionCookies()))
	}

	// A later, smaller session clears the stale chunks: log in as alice in
	// the same browser (stale chunks still present).
	b.setCookies(all)
	b.user, b.password = "alice", "alice-pass"
	h := b.navigate(e.url("/oauth2/start?rd=/"))
	var cleared []string
	for _, hp := range h {
		if hp.URL.Path != "/oauth2/callback" {
			continue
		}
		for _, sc := range hp.SetCookies {
			if m := regexp.MustCompile(`^(edgeauth_[0-9]+)=;`).FindStringSubmatch(sc); m != nil && strings.Contains(sc, "Max-Age=0") {
				cleared = append(cleared, m[1])
			}
		}
	}
	if len(cleared) == 0 {
		t.Errorf("a smaller session did not expire the stale chunks")
	}
	if got := e.upstreamSaw(b.api("/")); got.header("X-Auth-Upn") != "alice@example.onaliyun.com" {
		t.Errorf("after re-login as alice the upstream saw upn %q", got.header("X-Auth-Upn"))
	}
}

func TestLoginSecretRotation(t *testing.T) {
	e := newEnv(t, demoidp.Options{AutoApprove: true})
	e.startLogin(loginOpts{login: "param login_hint alice", session: "secret " + secretNew})
	b := e.newCookieClient("")
	b.login("/")
	e.upstreamSaw(b.api("/"))

	// A pending login started under the old secret.
	p := e.newCookieClient("")
	start := p.do(http.MethodGet, e.url("/later"), nil)
	back := p.do(http.MethodGet, start.Location, nil)

	e.start(e.loginConfig(loginOpts{login: "param login_hint alice", session: "secret " + secretNewer + " " + secretNew}))
	e.waitReady()
	e.upstreamSaw(b.api("/"))
	if h := p.do(http.MethodGet, back.Location, nil); h.Status != http.StatusFound || h.Location != "/later" {
		t.Errorf("a login started before the rotation failed after it: %d %s", h.Status, h.Body)
	}
	// New sessions are sealed with the new secret: a login now survives
	// dropping the old one.
	n := e.newCookieClient("")
	n.login("/")

	e.start(e.loginConfig(loginOpts{login: "param login_hint alice", session: "secret " + secretNewer}))
	e.waitReady()
	if resp, body := b.api("/"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a session sealed with a dropped secret: %d, want 401; %s", resp.StatusCode, body)
	}
	e.upstreamSaw(n.api("/"))
}

func TestLoginRefresh(t *testing.T) {
	const ttl = 3 * time.Second
	e := newEnv(t, demoidp.Options{
		AutoApprove: true, AccessTokenTTL: ttl, IDTokenTTL: ttl,
		RotateRefreshTokens: true, RevokeFamilyOnReuse: true, RefreshReturnsIDToken: true,
	})
	e.startLogin(loginOpts{login: "param login_hint alice\n\t\t\tparam access_type offline"})
	b := e.newCookieClient("")
	b.login("/")
	loggedIn := time.Now()

	// burst sends n concurrent API requests with the browser's cookies and
	// checks each reached the upstream as alice.
	burst := func(name string, n int) {
		t.Helper()
		before := e.idp.Counts().Token
		errs := make(chan string, n)
		start := make(chan struct{})
		for range n {
			go func() {
				<-start
				req, _ := http.NewRequest(http.MethodGet, e.url("/"), nil)
				req.Header.Set("Accept", "application/json")
				resp, err := b.client.Do(req)
				if err != nil {
					errs <- err.Error()
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var got echo
				if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &got) != nil || got.header("X-Auth-Subject") != "2000000000000002" {
					errs <- fmt.Sprintf("status %d: %.200s", resp.StatusCode, body)
					return
				}
				errs <- ""
			}()
		}
		close(start)
		for range n {
			if msg := <-errs; msg != "" {
				t.Errorf("%s: %s", name, msg)
			}
		}
		if d := e.idp.Counts().Token - before; d != 1 {
			t.Errorf("%s: %d token endpoint calls for %d concurrent requests, want exactly 1 refresh", name, d, n)
		}
	}

	// Within the refresh margin (half the tokens' life, as they live less
	// than twice the 60s default; tokens still valid): refreshed ahead of
	// expiry.
	time.Sleep(time.Until(loggedIn.Add(ttl/2 + 300*time.Millisecond)))
	burst("before expiry", 20)
	// A provider outage while the tokens are still valid keeps the session.
	e.idp.SetDown(true)
	resp, body := b.api("/")
	e.idp.SetDown(false)
	if resp.StatusCode != http.StatusOK || len(b.sessionCookies()) == 0 {
		t.Errorf("provider down while the tokens are valid: %d, %d session cookies; %.200s", resp.StatusCode, len(b.sessionCookies()), body)
	}
	// Once the tokens have expired (the session has not): refreshed again,
	// with the rotated refresh token (the first one is now refused, and
	// reusing it would revoke the whole family).
	time.Sleep(time.Until(loggedIn.Add(ttl + 1500*time.Millisecond)))
	burst("after expiry", 20)
	status, info := b.userinfo()
	if status != http.StatusOK {
		t.Fatalf("userinfo after refresh: %d", status)
	}
	exp, _ := time.Parse(time.RFC3339, fmt.Sprint(info["expires_at"]))
	if exp.Before(time.Now().Add(-time.Second)) {
		t.Errorf("expires_at %v is in the past after a refresh", exp)
	}

	// A refresh that fails once the tokens have expired ends the session:
	// APIs get 401, the cookie is cleared.
	time.Sleep(time.Until(exp.Add(1500 * time.Millisecond)))
	e.idp.SetDown(true)
	defer e.idp.SetDown(false)
	resp, body = b.api("/")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("expired session with the provider down: %d, want 401; %s", resp.StatusCode, body)
	}
	if len(b.sessionCookies()) != 0 {
		t.Errorf("the failed session's cookie was not cleared")
	}
}

func TestLoginExpiresInAsString(t *testing.T) {
	// Alibaba Cloud may send expires_in as a string. A short access token
	// with a long ID token shows that the string was read: the session is
	// refreshed when the access token expires.
	e := newEnv(t, demoidp.Options{AutoApprove: true, ExpiresInAsString: true, AccessTokenTTL: 2 * time.Second, IDTokenTTL: time.Hour})
	e.startLogin(loginOpts{login: "param login_hint alice\n\t\t\tparam access_type offline"})
	b := e.newCookieClient("")
	b.login("/")
	status, info := b.userinfo()
	if status != http.StatusOK {
		t.Fatalf("userinfo: %d", status)
	}
	exp, err := time.Parse(time.RFC3339, fmt.Sprint(info["expires_at"]))
	if err != nil || time.Until(exp) > time.Minute {
		t.Fatalf("session expires_at = %v, want within seconds (expires_in \"2\" was not honoured)", info["expires_at"])
	}
	time.Sleep(1100 * time.Millisecond) // past half the access token's life: the refresh margin
	before := e.idp.Counts().Token
	e.upstreamSaw(b.api("/"))
	if e.idp.Counts().Token == before {
		t.Error("no refresh although the access token expires in 2s")
	}
}

func TestLoginLogout(t *testing.T) {
	e := newEnv(t, demoidp.Options{AutoApprove: true})
	postLogout := fmt.Sprintf("http://127.0.0.1:%d/bye", e.port)
	e.startLogin(loginOpts{login: "param login_hint alice\n\t\t\tpost_logout_redirect_uri " + postLogout, rules: "\t\tpublic /bye\n"})

	// Same-site GET logs out and goes to the provider's end_session.
	b := e.newCookieClient("")
	b.login("/")
	h := b.do(http.MethodGet, e.url("/oauth2/logout"), nil, "Sec-Fetch-Site: same-origin")
	if h.Status != http.StatusFound || !strings.HasPrefix(h.Location, e.idp.Issuer()+demoidp.PathLogout) {
		t.Fatalf("logout: %d → %q, want 302 to the end_session_endpoint", h.Status, h.Location)
	}
	loc, _ := url.Parse(h.Location)
	// No id_token_hint by default: TestRedTeamLogoutURLCarriesNoIDToken.
	if loc.Query().Has("id_token_hint") || loc.Query().Get("client_id") != demoidp.DefaultClientID || loc.Query().Get("post_logout_redirect_uri") != postLogout {
		t.Errorf("end_session parameters: id_token_hint present=%v, client_id=%q, post_logout_redirect_uri=%q",
			loc.Query().Has("id_token_hint"), loc.Query().Get("client_id"), loc.Query().Get("post_logout_redirect_uri"))
	}
	if len(b.sessionCookies()) != 0 {
		t.Errorf("session cookies left after logout: %d", len(b.sessionCookies()))
	}
	end := last(b.navigate(h.Location))
	if end.URL.Path != "/bye" || end.Status != http.StatusOK {
		t.Errorf("after the provider's logout the browser is at %s (%d), want /bye", end.URL.Path, end.Status)
	}
	logouts := e.idp.Logouts()
	if len(logouts) != 1 || logouts[0].ClientID != demoidp.DefaultClientID || logouts[0].PostLogoutRedirectURI != postLogout {
		t.Errorf("the provider recorded %+v, want one logout for client %s returning to %s", logouts, demoidp.DefaultClientID, postLogout)
	}
	if status, _ := b.userinfo(); status != http.StatusUnauthorized {
		t.Errorf("userinfo after logout: %d, want 401", status)
	}

	// Cross-site GET: a confirmation page, the session stays.
	b = e.newCookieClient("")
	b.login("/")
	h = b.do(http.MethodGet, e.url("/oauth2/logout"), nil, "Sec-Fetch-Site: cross-site")
	if h.Status != http.StatusOK || !bytes.Contains(h.Body, []byte(`method="post"`)) {
		t.Errorf("cross-site logout GET: %d %s, want a confirm page with a POST form", h.Status, h.Body)
	}
	if setsSession(h) || len(b.sessionCookies()) == 0 {
		t.Error("cross-site GET touched the session")
	}
	if status, _ := b.userinfo(); status != http.StatusOK {
		t.Errorf("session gone after a cross-site logout GET: userinfo %d", status)
	}

	// A cross-site POST gets the confirm page too (TestFinding8… has the
	// cases); a POST without Origin, Referer or fetch metadata logs out.
	h = b.do(http.MethodPost, e.url("/oauth2/logout"), url.Values{}, "Sec-Fetch-Site: cross-site")
	if h.Status != http.StatusOK || !bytes.Contains(h.Body, []byte(`method="post"`)) || len(b.sessionCookies()) == 0 {
		t.Errorf("cross-site POST logout: %d, %d session cookies left; want the confirm page", h.Status, len(b.sessionCookies()))
	}
	h = b.do(http.MethodPost, e.url("/oauth2/logout"), url.Values{})
	if h.Status != http.StatusFound || len(b.sessionCookies()) != 0 {
		t.Errorf("POST logout: %d, %d session cookies left", h.Status, len(b.sessionCookies()))
	}
	if status, _ := b.userinfo(); status != http.StatusUnauthorized {
		t.Errorf("userinfo after POST logout: %d, want 401", status)
	}
	req, _ := http.NewRequest(http.MethodPost, e.url("/oauth2/logout"), nil)
	if resp, _ := e.do(req); resp.StatusCode != http.StatusFound {
		t.Errorf("POST logout from a non-browser client without a session: %d, want 302", resp.StatusCode)
	}
}

func TestLoginIncrementalAuthorization(t *testing.T) {
	e := newEnv(t, demoidp.Options{AutoApprove: true})
	e.startLogin(loginOpts{rules: "\t\tscope /dns/* /acs/alidns\n"})

	// bob may not grant /acs/alidns: one trip to the provider asking for it,
	// then a 403 page, never a loop.
	bob := e.newCookieClient("bob")
	bob.login("/")
	before := e.idp.Counts().Authorize
	hops := bob.navigate(e.url("/dns/x"))
	var asked []string
	for _, h := range hops {
		if h.URL.Path == demoidp.PathAuthorize {
			asked = append(asked, h.URL.Query().Get("scope"))
		}
	}
	if len(asked) != 1 || !slices.Contains(strings.Fields(asked[0]), "/acs/alidns") {
		t.Errorf("bob's step-up asked the provider %d times for %q, want once for /acs/alidns%s", len(asked), asked, describeHops(hops))
	}
	end := last(hops)
	if end.Status != http.StatusForbidden || !strings.HasPrefix(end.Header.Get("Content-Type"), "text/html") || !bytes.Contains(end.Body, []byte("/acs/alidns")) {
		t.Errorf("bob ended with %d %q: %.300s, want a 403 page naming /acs/alidns", end.Status, end.Header.Get("Content-Type"), end.Body)
	}
	// Again: straight to 403, no new trip.
	again := bob.navigate(e.url("/dns/y"))
	if len(again) != 1 || again[0].Status != http.StatusForbidden {
		t.Errorf("second visit: %s, want one 403", describeHops(again))
	}
	if d := e.idp.Counts().Authorize - before; d != 1 {
		t.Errorf("%d authorization requests for bob's step-up, want 1", d)
	}
	// bob's session still works where no scope is needed, and API calls get
	// a 403 insufficient_scope, not a redirect.
	e.upstreamSaw(bob.api("/"))
	if resp, _ := bob.api("/dns/x"); resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `scope="/acs/alidns"`) {
		t.Errorf("API call to /dns/x: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}

	// alice can grant it: the step-up login succeeds and she lands on /dns/x.
	alice := e.newCookieClient("alice")
	alice.login("/")
	hops = alice.login("/dns/x")
	if last(hops).URL.Path != "/dns/x" {
		t.Errorf("alice landed on %s", last(hops).URL.Path)
	}
	got := e.upstreamSaw(alice.api("/dns/zone"))
	if !slices.Contains(strings.Fields(got.header("X-Auth-Scopes")), "/acs/alidns") || got.header("X-Auth-Upn") != "alice@example.onaliyun.com" {
		t.Errorf("after step-up the upstream saw scopes %q upn %q", got.header("X-Auth-Scopes"), got.header("X-Auth-Upn"))
	}
}

// directTokens runs the code flow against the demo provider without the
// gateway (login_hint + AutoApprove) and returns the token response; offline
// asks for a refresh token.
func (e *env) directTokens(user, scopes string, offline bool) map[string]any {
	e.t.Helper()
	c := e.idp.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	verifier := strings.Repeat("v", 50)
	q := url.Values{
		"client_id": {demoidp.DefaultClientID}, "redirect_uri": {"http://127.0.0.1:1/cb"},
		"response_type": {"code"}, "scope": {scopes}, "state": {"s"}, "login_hint": {user},
		"code_challenge": {verifier}, "code_challenge_method": {"plain"},
	}
	if offline {
		q.Set("access_type", "offline")
	}
	resp, err := c.Get(e.idp.Issuer() + demoidp.PathAuthorize + "?" + q.Encode())
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	code := loc.Query().Get("code")
	if code == "" {
		e.t.Fatalf("no code from the provider: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, err = c.PostForm(e.idp.Issuer()+demoidp.PathToken, url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"http://127.0.0.1:1/cb"},
		"code_verifier": {verifier}, "client_id": {demoidp.DefaultClientID}, "client_secret": {demoidp.DefaultClientSecret},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		e.t.Fatalf("token response %d: %v", resp.StatusCode, err)
	}
	return out
}

func TestLoginOpaqueAccessTokens(t *testing.T) {
	for _, mode := range []string{"userinfo", "introspection"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, demoidp.Options{AutoApprove: true, OpaqueAccessTokens: true})
			e.startLogin(loginOpts{providerExtra: []string{"opaque_tokens " + mode}, login: "param login_hint alice", rules: "\t\tscope /profile/* profile\n"})

			tokens := e.directTokens("alice", "openid profile aliuid email", true)
			at, _ := tokens["access_token"].(string)
			if at == "" || strings.Count(at, ".") == 2 {
				t.Fatalf("the provider did not issue an opaque access token")
			}
			before := e.idp.Counts()
			got := e.upstreamSaw(e.get("/api", at))
			if got.header("X-Auth-Subject") != "2000000000000002" {
				t.Errorf("opaque token identity: sub %q", got.header("X-Auth-Subject"))
			}
			// Userinfo answers with the profile claims (but no scopes);
			// introspection with the RFC 7662 members (scope, no profile).
			if mode == "userinfo" && got.header("X-Auth-Upn") != "alice@example.onaliyun.com" {
				t.Errorf("opaque token via userinfo: upn %q", got.header("X-Auth-Upn"))
			}
			if mode == "introspection" && got.header("X-Auth-Scopes") != "openid profile aliuid email" {
				t.Errorf("opaque token via introspection: scopes %q", got.header("X-Auth-Scopes"))
			}
			after := e.idp.Counts()
			if mode == "userinfo" && after.Userinfo == before.Userinfo {
				t.Error("the opaque token was not checked at the userinfo endpoint")
			}
			if mode == "introspection" && after.Introspect == before.Introspect {
				t.Error("the opaque token was not checked at the introspection endpoint")
			}
			// The answer is cached: the same token again costs no call.
			e.upstreamSaw(e.get("/api", at))
			if again := e.idp.Counts(); again.Userinfo != after.Userinfo || again.Introspect != after.Introspect {
				t.Errorf("a second request with the same opaque token asked the provider again (userinfo %d→%d, introspect %d→%d)",
					after.Userinfo, again.Userinfo, after.Introspect, again.Introspect)
			}
			// Scope rules: introspection states the token's scopes; userinfo
			// does not, so a scope route must fail closed (403).
			resp, body := e.get("/profile/me", at)
			switch {
			case mode == "introspection" && resp.StatusCode != http.StatusOK:
				t.Errorf("scope route with an introspected token holding the scope: %d %.200s", resp.StatusCode, body)
			case mode == "userinfo" && resp.StatusCode != http.StatusForbidden:
				t.Errorf("scope route with a userinfo-checked token (scopes unknown): %d, want 403", resp.StatusCode)
			}
			for _, bogus := range []string{"bogus-opaque-token-0123456789", at + "x"} {
				resp, body := e.get("/api", bogus)
				if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_token") {
					t.Errorf("bogus opaque token: %d %q %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
				}
			}
			// The browser login works with opaque access tokens too.
			b := e.newCookieClient("")
			b.login("/")
			e.upstreamSaw(b.api("/"))
		})
	}
}

// A refresh token presented as a bearer token must not be accepted: RFC 7662
// introspection answers active=true for refresh tokens too (with token_type
// refresh_token), so the gateway has to look at token_type.
func TestLoginOpaqueRefreshTokenIsNotABearer(t *testing.T) {
	e := newEnv(t, demoidp.Options{AutoApprove: true, OpaqueAccessTokens: true})
	e.startLogin(loginOpts{providerExtra: []string{"opaque_tokens introspection"}})
	rt, _ := e.directTokens("alice", "openid profile aliuid email", true)["refresh_token"].(string)
	if rt == "" {
		t.Fatal("no refresh token from the provider")
	}
	resp, body := e.get("/api", rt)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a refresh token used as a bearer token: %d, want 401 invalid_token; body %.300s", resp.StatusCode, body)
	}
}

func TestLoginConfigErrorsAtLoad(t *testing.T) {
	cfg := func(provider, session, directive string) string {
		return "{\n\tadmin off\n\tedgeauth {\n\t\tprovider corp {\n\t\t\tissuer https://idp.example.com\n" + provider +
			"\n\t\t}\n\t\tsession {\n" + session + "\n\t\t}\n\t}\n}\nhttp://127.0.0.1:9 {\n\tedgeauth corp {\n" + directive + "\n\t}\n\trespond \"unreachable\"\n}\n"
	}
	const client = "client_id gw\nclient_secret s3cret\nscopes openid profile"
	const secret = "secret " + secretNew
	cases := []struct{ name, caddyfile, want string }{
		{"short secret", cfg(client, "secret too-short", "login"), "at least 32"},
		{"one short secret of two", cfg(client, "secret "+secretNew+" short", "login"), "secret 2"},
		{"negative lifetime", cfg(client, secret+"\nlifetime -1h", "login"), "lifetime"},
		{"bad cookie name", cfg(client, secret+"\ncookie_name a;b", "login"), "cookie_name"},
		{"login without client_id", cfg("audiences api", secret, "login"), "client_id"},
		{"unknown auth_method", cfg(client, secret, "login {\nauth_method private_key_jwt\n}"), "client_secret_basic or client_secret_post"},
		{"auth_method without secret", cfg("client_id gw\nscopes openid", secret, "login {\nauth_method client_secret_post\n}"), "client_secret"},
		{"prefix without slashes", cfg(client, secret, "login oauth2"), "starts and ends with /"},
		{"prefix with a wildcard", cfg(client, secret, "login /oauth2/*/"), "starts and ends with /"},
		{"reserved param", cfg(client, secret, "login {\nparam state fixed\n}"), "state"},
		{"reserved param redirect_uri", cfg(client, secret, "login {\nparam redirect_uri https://evil.example/cb\n}"), "redirect_uri"},
		{"scopes without openid", cfg("client_id gw\nclient_secret s3cret\nscopes profile email", secret, "login"), "openid"},
		{"relative redirect_url", cfg(client, secret, "login {\nredirect_url /oauth2/callback\n}"), "redirect"},
		{"redirect_url with another scheme", cfg(client, secret, "login {\nredirect_url javascript:alert(1)\n}"), "redirect"},
		{"unknown opaque_tokens", cfg(client+"\nopaque_tokens jwt", secret, ""), "use userinfo or introspection"},
		{"introspection without secret", cfg("client_id gw\nopaque_tokens introspection", secret, ""), "introspection"},
		{"unknown preset", cfg(client+"\npreset aws", secret, ""), `preset "aws" is unknown`},
		{"opaque_cache_ttl too long", cfg(client+"\nopaque_tokens userinfo\nopaque_cache_ttl 24h", secret, ""), "opaque_cache_ttl"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := loadError(t, c.caddyfile)
			if got == "" {
				t.Fatalf("the config loaded; want an error containing %q", c.want)
			}
			if !strings.Contains(got, c.want) {
				t.Fatalf("error %q does not contain %q", got, c.want)
			}
			if strings.Contains(got, secretNew) || strings.Contains(got, "s3cret") {
				t.Errorf("the error shows a secret: %s", got)
			}
		})
	}
	// The same settings load when they are right, so the cases above can fail.
	if got := loadError(t, cfg(client, secret+"\nlifetime 1h\ncookie_name gw", "login /auth/ {\nauth_method client_secret_post\nparam prompt login\nredirect_url https://app.example.com/auth/callback\n}")); got != "" {
		t.Fatalf("a valid login config was refused: %s", got)
	}
}

// `login /` would put the whole site under the login endpoints: every path
// but start, callback, logout and userinfo would be a 404 from the flow and
// nothing would reach the upstream. It must be refused at load.
func TestLoginPrefixRootIsRefused(t *testing.T) {
	got := loadError(t, "{\n\tadmin off\n\tedgeauth {\n\t\tprovider corp {\n\t\t\tissuer https://idp.example.com\n\t\t\tclient_id gw\n\t\t\tclient_secret s3cret\n\t\t\tscopes openid\n\t\t}\n\t}\n}\n"+
		"http://127.0.0.1:9 {\n\tedgeauth corp {\n\t\tlogin /\n\t}\n\trespond \"unreachable\"\n}\n")
	if got == "" {
		t.Fatal("`login /` loaded; it turns every path of the site into a login endpoint")
	}
}

// TestLoginFixturesLoad: every login Caddyfile fixture that adapts (the
// golden examples in testdata) also provisions, so no golden shows a config
// that Caddy would refuse.
func TestLoginFixturesLoad(t *testing.T) {
	for _, name := range []string{"EDGEAUTH_KEY", "EDGEAUTH_KEY_NEW", "EDGEAUTH_KEY_OLD"} {
		t.Setenv(name, secretNew)
	}
	for _, name := range []string{"CORP_CLIENT_SECRET", "ALIYUN_CLIENT_SECRET", "IDAAS_SECRET"} {
		t.Setenv(name, "client-secret")
	}
	files, err := filepath.Glob("../testdata/caddyfile_adapt/login_*.caddyfiletest")
	if err != nil || len(files) == 0 {
		t.Fatalf("no login fixtures: %v", err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		input, want, _ := strings.Cut(string(raw), "\n----------\n")
		if strings.HasPrefix(strings.TrimSpace(want), "error:") {
			continue
		}
		t.Run(strings.TrimSuffix(filepath.Base(f), ".caddyfiletest"), func(t *testing.T) {
			// Keep the admin endpoint off: a fixture's global block comes first.
			if got := loadError(t, strings.Replace(input, "{\n", "{\n\tadmin off\n", 1)); got != "" {
				t.Errorf("the fixture adapts but does not load: %s", got)
			}
		})
	}
}

// tlsSite writes a self-signed certificate for 127.0.0.1 and returns an
// https site block on Caddy's port with the given edgeauth body, plus a
// pool that trusts the certificate.
func (e *env) tlsSite(body string) (string, *x509.CertPool) {
	e.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		e.t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		e.t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		e.t.Fatal(err)
	}
	certFile := writeFile(e.t, "site.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	keyFile := writeFile(e.t, "site-key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})))
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return fmt.Sprintf(`https://127.0.0.1:%d {
	tls %s %s
	edgeauth demo {
%s
	}
	reverse_proxy %s
}
`, e.port, certFile, keyFile, body, e.upstream), pool
}

func TestLoginOverHTTPSUsesHostPrefixAndSecure(t *testing.T) {
	e := newEnv(t, demoidp.Options{AutoApprove: true})
	site, pool := e.tlsSite("\t\tlogin {\n\t\t\tparam login_hint alice\n\t\t}\n\t\tpublic /public/*")
	prov := e.providerBlock("demo", "scopes openid profile aliuid email")
	e.start(e.globals(prov+"\n\t\tsession {\n\t\t\tsecret "+secretNew+"\n\t\t}") + site)

	b := e.newCookieClient("")
	roots := pool.Clone()
	roots.AddCert(e.idp.CACert())
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	t.Cleanup(tr.CloseIdleConnections)
	b.client.Transport = tr
	base := fmt.Sprintf("https://127.0.0.1:%d", e.port)

	var hops []hop
	waitFor(t, "the provider's metadata", 10*time.Second, func() bool {
		hops = b.navigate(base + "/secure")
		return last(hops).Status == http.StatusOK
	})
	if end := last(hops); end.URL.String() != base+"/secure" {
		t.Fatalf("login over https ended at %s%s", end.URL, describeHops(hops))
	}
	var sawSession, sawPending bool
	for _, h := range hops {
		if h.URL.Host != fmt.Sprintf("127.0.0.1:%d", e.port) {
			continue
		}
		if h.URL.Path == "/secure" && h.Status == http.StatusFound {
			q, _ := url.Parse(h.Location)
			if ru := q.Query().Get("redirect_uri"); ru != base+"/oauth2/callback" {
				t.Errorf("redirect_uri over https = %q", ru)
			}
		}
		for _, sc := range h.SetCookies {
			name, _, _ := strings.Cut(sc, "=")
			if !strings.HasPrefix(name, "__Host-") {
				t.Errorf("cookie %s over https lacks the __Host- prefix", name)
			}
			lower := strings.ToLower(sc)
			if !strings.Contains(lower, "; secure") || !strings.Contains(lower, "path=/") || strings.Contains(lower, "domain=") {
				t.Errorf("cookie %s: want Secure, Path=/ and no Domain: %.40s…", name, sc)
			}
			sawSession = sawSession || name == "__Host-edgeauth"
			sawPending = sawPending || strings.HasPrefix(name, "__Host-edgeauth_login_")
		}
	}
	if !sawSession || !sawPending {
		t.Errorf("session cookie seen: %v, pending-login cookie seen: %v", sawSession, sawPending)
	}

	// Identity upstream, no own cookies upstream — on protected and on
	// public routes.
	for _, path := range []string{"/api", "/public/x"} {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.Header.Set("Accept", "application/json")
		req.AddCookie(&http.Cookie{Name: "app", Value: "1"})
		resp, err := b.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got := e.upstreamSaw(resp, body)
		if c := got.header("Cookie"); c != "app=1" {
			t.Errorf("%s: upstream Cookie = %q, want only app=1", path, c)
		}
		if path == "/api" && got.header("X-Auth-Upn") != "alice@example.onaliyun.com" {
			t.Errorf("%s: upn %q", path, got.header("X-Auth-Upn"))
		}
	}
}

func TestLoginSessionLifetime(t *testing.T) {
	e := newEnv(t, demoidp.Options{AutoApprove: true})
	e.startLogin(loginOpts{login: "param login_hint alice", session: "secret " + secretNew + "\n\t\t\tlifetime 2s"})
	b := e.newCookieClient("")
	b.login("/")
	status, info := b.userinfo()
	if status != http.StatusOK {
		t.Fatalf("userinfo: %d", status)
	}
	notAfter, err := time.Parse(time.RFC3339, fmt.Sprint(info["session_expires_at"]))
	if err != nil || time.Until(notAfter) > 3*time.Second {
		t.Errorf("session_expires_at = %v, want within the 2s lifetime", info["session_expires_at"])
	}
	cookies := b.cookies()
	time.Sleep(time.Until(notAfter) + 1100*time.Millisecond)
	// A browser that ignores Max-Age still loses the session: the sealed
	// cookie carries its end.
	b.setCookies(cookies)
	if resp, body := b.api("/"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("after the session lifetime: %d, want 401; %.200s", resp.StatusCode, body)
	}
}
