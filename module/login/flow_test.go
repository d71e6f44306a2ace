package login

import (
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/clientauth"
	"github.com/edgeauth/caddy-edgeauth/module/session"
)

// rpEnv is a relying party (the Flow behind a tiny handler) in front of a
// test OP.
type rpEnv struct {
	op       *testOP
	provider *testProvider
	flow     *Flow
	store    *session.CookieStore
	srv      *httptest.Server
	// skew is added to the Flow's clock (nanoseconds), to age sessions.
	skew atomic.Int64
}

// age moves the Flow's clock forward by d.
func (e *rpEnv) age(d time.Duration) { e.skew.Store(int64(d)) }

// protected mimics the handler: session or login/401, then step-up.
func (e *rpEnv) protected(w http.ResponseWriter, r *http.Request) {
	s, err := e.flow.Session(r.Context(), w, r)
	if err != nil {
		if IsBrowserNavigation(r) && IsLoginRequired(err) {
			e.flow.StartLogin(w, r, r.URL.RequestURI(), nil)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"error":"unauthorized","login_required":%v}`, errors.Is(err, ErrLoginRequired))
		return
	}
	if need := r.URL.Query()["need"]; len(need) > 0 {
		if missing, ask := e.flow.StepUp(s, need); len(missing) > 0 {
			if ask && IsBrowserNavigation(r) {
				e.flow.StartLogin(w, r, r.URL.RequestURI(), missing)
				return
			}
			http.Error(w, "insufficient_scope", http.StatusForbidden)
			return
		}
	}
	fmt.Fprintf(w, "hello %s %s", s.Subject, s.AccessToken)
}

func newEnv(t *testing.T, tlsRP bool, tweak func(*FlowConfig)) *rpEnv {
	t.Helper()
	op := newTestOP(t)
	e := &rpEnv{op: op, provider: &testProvider{meta: op.metadata()}}
	sealer, err := session.NewSealer([][]byte{session.RandomSecret()})
	if err != nil {
		t.Fatal(err)
	}
	secure := func(r *http.Request) bool { return r.TLS != nil }
	e.store = session.NewCookieStore(sealer, session.CookieOptions{Name: "edgeauth", SecureFunc: secure}, time.Hour)
	cfg := FlowConfig{
		ClientID: op.clientID, ClientSecret: op.secret,
		Scopes:                []string{"openid", "aliuid", "profile"},
		PostLogoutRedirectURI: "https://app.example.com/bye",
		Provider:              e.provider, IDTokens: jwtVerifier{op}, Store: e.store, Sealer: sealer,
		SessionLifetime: time.Hour,
		Now:             func() time.Time { return time.Now().Add(time.Duration(e.skew.Load())) },
	}
	if tweak != nil {
		tweak(&cfg)
	}
	e.flow, err = NewFlow(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e.flow.Owns(r) {
			e.flow.ServeHTTP(w, r)
			return
		}
		e.protected(w, r)
	})
	if tlsRP {
		e.srv = httptest.NewTLSServer(h)
	} else {
		e.srv = httptest.NewServer(h)
	}
	t.Cleanup(e.srv.Close)
	return e
}

// browser returns a client with a cookie jar; follow=false stops at every
// redirect.
func (e *rpEnv) browser(t *testing.T, follow bool) *http.Client {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	if e.srv.TLS != nil {
		c.Transport = e.srv.Client().Transport
	}
	if !follow {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return c
}

func navigate(t *testing.T, c *http.Client, method, target string, headers ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// sessionOf loads the session the client's jar holds for the RP.
func (e *rpEnv) sessionOf(c *http.Client) (*session.Session, error) {
	u, _ := url.Parse(e.srv.URL)
	r := httptest.NewRequest("GET", e.srv.URL+"/", nil)
	if e.srv.TLS == nil {
		r.TLS = nil
	}
	for _, ck := range c.Jar.Cookies(u) {
		r.AddCookie(ck)
	}
	return e.store.Load(r)
}

func cookieNames(c *http.Client, raw string) []string {
	u, _ := url.Parse(raw)
	var names []string
	for _, ck := range c.Jar.Cookies(u) {
		names = append(names, ck.Name)
	}
	return names
}

func countPrefix(names []string, prefix string) int {
	n := 0
	for _, s := range names {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

func TestFlowFullLogin(t *testing.T) {
	e := newEnv(t, false, nil)
	c := e.browser(t, true)
	resp, body := navigate(t, c, "GET", e.srv.URL+"/app/page?x=1")
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "hello 1000000000000001 AT-") {
		t.Fatalf("login did not end on the app: %d %q", resp.StatusCode, body)
	}
	if resp.Request.URL.RequestURI() != "/app/page?x=1" {
		t.Errorf("returned to %q, want /app/page?x=1", resp.Request.URL.RequestURI())
	}
	args := e.op.lastAuthorizeArgs
	if args.Get("scope") != "openid aliuid profile" || args.Get("nonce") == "" || args.Get("state") == "" ||
		args.Get("redirect_uri") != e.srv.URL+"/oauth2/callback" {
		t.Errorf("authorize arguments: %v", args)
	}
	names := cookieNames(c, e.srv.URL)
	if countPrefix(names, "edgeauth_login_") != 0 {
		t.Errorf("pending-login cookie left after the callback: %v", names)
	}
	s1, err := e.sessionOf(c)
	if err != nil {
		t.Fatalf("no session after login: %v", err)
	}
	if s1.Subject != "1000000000000001" || s1.RefreshToken == "" || s1.Claims["aid"] != "1000000000000000" ||
		strings.Join(s1.Scopes, " ") != "openid aliuid profile" || s1.Provider != "testop" {
		t.Errorf("session content: sub %q scopes %v", s1.Subject, s1.Scopes)
	}
	if d := time.Until(s1.NotAfter); d < 59*time.Minute || d > time.Hour {
		t.Errorf("NotAfter in %v, want the 1h lifetime", d)
	}

	// Userinfo with a session.
	resp, body = navigate(t, c, "GET", e.srv.URL+"/oauth2/userinfo")
	var info map[string]any
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &info) != nil {
		t.Fatalf("userinfo: %d %s", resp.StatusCode, body)
	}
	if info["sub"] != "1000000000000001" || info["iss"] != e.op.issuer() || info["expires_at"] == nil ||
		fmt.Sprint(info["scopes"]) != "[openid aliuid profile]" || info["claims"].(map[string]any)["name"] != "alice" {
		t.Errorf("userinfo body: %s", body)
	}
	if strings.Contains(body, s1.RefreshToken) || strings.Contains(body, s1.AccessToken) {
		t.Error("userinfo leaks tokens")
	}

	// A new login replaces the session with a fresh ID.
	resp, _ = navigate(t, c, "GET", e.srv.URL+"/oauth2/start?rd=/again")
	if resp.Request.URL.Path != "/again" {
		t.Fatalf("start?rd= returned to %q", resp.Request.URL.Path)
	}
	s2, err := e.sessionOf(c)
	if err != nil || s2.ID == s1.ID {
		t.Fatalf("second login reused the session ID (%v)", err)
	}
	// An unsafe rd falls back to "/".
	resp, _ = navigate(t, c, "GET", e.srv.URL+"/oauth2/start?rd="+url.QueryEscape("//evil.example"))
	if resp.Request.URL.Host != strings.TrimPrefix(e.srv.URL, "http://") || resp.Request.URL.Path != "/" {
		t.Fatalf("unsafe rd led to %s", resp.Request.URL)
	}
}

func TestFlowTLSUsesHostPrefix(t *testing.T) {
	e := newEnv(t, true, nil)
	c := e.browser(t, false)
	resp, _ := navigate(t, c, "GET", e.srv.URL+"/app")
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("browser navigation without session: %d, want 302", resp.StatusCode)
	}
	var pending *http.Cookie
	for _, ck := range resp.Cookies() {
		if strings.HasPrefix(ck.Name, "__Host-edgeauth_login_") {
			pending = ck
		}
	}
	if pending == nil || !pending.Secure || !pending.HttpOnly || pending.Path != "/" || pending.SameSite != http.SameSiteLaxMode || pending.MaxAge != 600 {
		t.Fatalf("pending-login cookie: %+v", pending)
	}
	c = e.browser(t, true)
	resp, body := navigate(t, c, "GET", e.srv.URL+"/app")
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "hello") {
		t.Fatalf("TLS login failed: %d %s", resp.StatusCode, body)
	}
	if names := cookieNames(c, e.srv.URL); countPrefix(names, "__Host-edgeauth") != 1 {
		t.Fatalf("want exactly the __Host-edgeauth session cookie, have %v", names)
	}
}

// step follows one redirect by hand.
func step(t *testing.T, c *http.Client, resp *http.Response) *http.Response {
	t.Helper()
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("no redirect (status %d)", resp.StatusCode)
	}
	next, _ := navigate(t, c, "GET", loc.String())
	return next
}

func TestFlowParallelTabs(t *testing.T) {
	e := newEnv(t, false, nil)
	c := e.browser(t, false)
	startA, _ := navigate(t, c, "GET", e.srv.URL+"/oauth2/start?rd=/tab-a")
	startB, _ := navigate(t, c, "GET", e.srv.URL+"/oauth2/start?rd=/tab-b")
	if n := countPrefix(cookieNames(c, e.srv.URL), "edgeauth_login_"); n != 2 {
		t.Fatalf("%d pending-login cookies, want 2", n)
	}
	// Finish B first, then A: both must succeed.
	cbB := step(t, c, startB)
	doneB := step(t, c, cbB)
	if doneB.StatusCode != http.StatusFound || doneB.Header.Get("Location") != "/tab-b" {
		t.Fatalf("tab B callback: %d → %q", doneB.StatusCode, doneB.Header.Get("Location"))
	}
	cbA := step(t, c, startA)
	doneA := step(t, c, cbA)
	if doneA.StatusCode != http.StatusFound || doneA.Header.Get("Location") != "/tab-a" {
		t.Fatalf("tab A callback: %d → %q", doneA.StatusCode, doneA.Header.Get("Location"))
	}
	if n := countPrefix(cookieNames(c, e.srv.URL), "edgeauth_login_"); n != 0 {
		t.Fatalf("%d pending-login cookies left", n)
	}
	if _, err := e.sessionOf(c); err != nil {
		t.Fatalf("no session after two logins: %v", err)
	}
}

func TestFlowPendingLoginCap(t *testing.T) {
	e := newEnv(t, false, nil)
	c := e.browser(t, false)
	var starts []*http.Response
	for i := range 7 {
		r, _ := navigate(t, c, "GET", fmt.Sprintf("%s/oauth2/start?rd=/t%d", e.srv.URL, i))
		starts = append(starts, r)
	}
	if n := countPrefix(cookieNames(c, e.srv.URL), "edgeauth_login_"); n != 5 {
		t.Fatalf("%d pending-login cookies, want the cap of 5", n)
	}
	for i, want := range []int{400, 400, 302, 302, 302, 302, 302} {
		got := step(t, c, step(t, c, starts[i]))
		if got.StatusCode != want {
			t.Errorf("login %d: callback status %d, want %d", i, got.StatusCode, want)
		}
	}
}

func TestFlowStateReplayAndTampering(t *testing.T) {
	e := newEnv(t, false, nil)
	c := e.browser(t, false)
	start, _ := navigate(t, c, "GET", e.srv.URL+"/app")
	cb := step(t, c, start)
	cbURL, _ := cb.Location()

	// Another browser presenting this callback has no pending login.
	other := e.browser(t, false)
	resp, body := navigate(t, other, "GET", cbURL.String())
	if resp.StatusCode != 400 || !strings.Contains(body, "Login state missing or already used") {
		t.Fatalf("foreign browser: %d %s", resp.StatusCode, body)
	}

	// Tampered state.
	q := cbURL.Query()
	q.Set("state", q.Get("state")+"x")
	tampered := *cbURL
	tampered.RawQuery = q.Encode()
	resp, body = navigate(t, c, "GET", tampered.String())
	if resp.StatusCode != 400 || !strings.Contains(body, "Login state missing") {
		t.Fatalf("tampered state: %d %s", resp.StatusCode, body)
	}
	if _, err := e.sessionOf(c); err == nil {
		t.Fatal("a session was set by a failed callback")
	}

	// The real callback works once…
	resp, _ = navigate(t, c, "GET", cbURL.String())
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/app" {
		t.Fatalf("callback: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// …and a replay fails.
	resp, body = navigate(t, c, "GET", cbURL.String())
	if resp.StatusCode != 400 || !strings.Contains(body, "already used") {
		t.Fatalf("replayed callback: %d %s", resp.StatusCode, body)
	}
}

// failedCallback runs a login whose callback must fail and checks that it
// answers status with text, sets no session and clears the pending cookie.
func failedCallback(t *testing.T, e *rpEnv, status int, text string) {
	t.Helper()
	c := e.browser(t, false)
	start, _ := navigate(t, c, "GET", e.srv.URL+"/app")
	cb := step(t, c, start)
	loc, _ := cb.Location()
	resp, body := navigate(t, c, "GET", loc.String())
	if resp.StatusCode != status || !strings.Contains(body, text) {
		t.Fatalf("callback: %d %q, want %d containing %q", resp.StatusCode, body, status, text)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("error page content type %q", ct)
	}
	if _, err := e.sessionOf(c); err == nil {
		t.Fatal("a session was set by a failed callback")
	}
	if n := countPrefix(cookieNames(c, e.srv.URL), "edgeauth_login_"); n != 0 {
		t.Fatal("pending-login cookie not cleared after a failed callback")
	}
	for _, secret := range []string{e.op.secret, loc.Query().Get("code")} {
		if secret != "" && strings.Contains(body, secret) {
			t.Fatalf("error page leaks %q", secret)
		}
	}
}

func TestFlowNonceMismatch(t *testing.T) {
	e := newEnv(t, false, nil)
	evil := "not-the-nonce"
	e.op.set(func(op *testOP) { op.nonceOverride = &evil })
	failedCallback(t, e, 400, "nonce does not match")
	empty := ""
	e.op.set(func(op *testOP) { op.nonceOverride = &empty })
	failedCallback(t, e, 400, "has no nonce")

	lenient := newEnv(t, false, func(c *FlowConfig) { c.AllowMissingNonce = true })
	lenient.op.set(func(op *testOP) { op.nonceOverride = &empty })
	resp, body := navigate(t, lenient.browser(t, true), "GET", lenient.srv.URL+"/app")
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "hello") {
		t.Fatalf("AllowMissingNonce login failed: %d %s", resp.StatusCode, body)
	}
	lenient.op.set(func(op *testOP) { op.nonceOverride = &evil })
	failedCallback(t, lenient, 400, "nonce does not match")
}

func TestFlowIssParameter(t *testing.T) {
	e := newEnv(t, false, nil)
	evil := "https://evil.example"
	e.op.set(func(op *testOP) { op.issParam = &evil })
	failedCallback(t, e, 400, "unexpected issuer")

	good := e.op.issuer()
	e.op.set(func(op *testOP) { op.issParam = &good })
	resp, body := navigate(t, e.browser(t, true), "GET", e.srv.URL+"/app")
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "hello") {
		t.Fatalf("login with the right iss failed: %d %s", resp.StatusCode, body)
	}

	// When the metadata promises iss, its absence fails.
	e.op.set(func(op *testOP) { op.issParam = nil })
	meta := e.op.metadata()
	meta.AuthorizationResponseIssParameterSupported = true
	e.provider.mu.Lock()
	e.provider.meta = meta
	e.provider.mu.Unlock()
	failedCallback(t, e, 400, "unexpected issuer")
}

func TestFlowProviderError(t *testing.T) {
	e := newEnv(t, false, nil)
	e.op.set(func(op *testOP) {
		op.authorizeError = "access_denied"
		op.errorDescription = "<script>alert(1)</script> user said no"
	})
	failedCallback(t, e, 403, "access_denied")
	c := e.browser(t, false)
	start, _ := navigate(t, c, "GET", e.srv.URL+"/app")
	cb := step(t, c, start)
	loc, _ := cb.Location()
	_, body := navigate(t, c, "GET", loc.String())
	if strings.Contains(body, "<script>") || !strings.Contains(body, "&lt;script&gt;") {
		t.Errorf("provider description not escaped: %s", body)
	}
	// A crafted link (no pending login) cannot put text on the page.
	resp, body := navigate(t, c, "GET", e.srv.URL+"/oauth2/callback?error=server_error&error_description=Call+555-0100&state=x")
	if resp.StatusCode != 400 || strings.Contains(body, "555-0100") || !strings.Contains(body, "server_error") {
		t.Errorf("crafted error link: %d %s", resp.StatusCode, body)
	}
}

func TestFlowCodeExchangeFailure(t *testing.T) {
	e := newEnv(t, false, func(c *FlowConfig) { c.ClientSecret = "wrong-secret" })
	failedCallback(t, e, 400, "refused the authorization code (invalid_client)")
}

// sessionWithShortTokens logs in, then ages the Flow's clock so that the
// session's tokens (1h) expire within the refresh margin.
func sessionWithShortTokens(t *testing.T, e *rpEnv) *http.Client {
	t.Helper()
	c := e.browser(t, true)
	if resp, body := navigate(t, c, "GET", e.srv.URL+"/app"); resp.StatusCode != 200 {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	if n := e.op.refreshCalls.Load(); n != 0 {
		t.Fatalf("%d refresh calls right after login", n)
	}
	e.age(59*time.Minute + 30*time.Second)
	return c
}

func TestFlowRefreshOnceUnderConcurrency(t *testing.T) {
	e := newEnv(t, false, nil)
	c := sessionWithShortTokens(t, e)
	before, _ := e.sessionOf(c)
	u, _ := url.Parse(e.srv.URL)
	oldCookies := c.Jar.Cookies(u)
	e.op.set(func(op *testOP) { op.refreshDelay = 200 * time.Millisecond; op.refreshExpiresIn = "3600" })

	var wg sync.WaitGroup
	bodies := make([]string, 50)
	for i := range 50 {
		wg.Go(func() {
			req, _ := http.NewRequest("GET", e.srv.URL+"/api", nil)
			req.Header.Set("Accept", "application/json")
			for _, ck := range oldCookies {
				req.AddCookie(ck)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || len(resp.Cookies()) == 0 {
				t.Errorf("request %d: %d, %d cookies set", i, resp.StatusCode, len(resp.Cookies()))
			}
			bodies[i] = string(b)
		})
	}
	wg.Wait()
	if n := e.op.refreshCalls.Load(); n != 1 {
		t.Fatalf("%d refresh calls for 50 concurrent requests, want 1", n)
	}
	for i, b := range bodies {
		if !strings.Contains(b, "AT-refreshed-") || b != bodies[0] {
			t.Fatalf("request %d saw %q, want the one refreshed access token", i, b)
		}
	}
	// A late request with the pre-refresh cookie reuses the result.
	resp, body := navigate(t, &http.Client{Jar: c.Jar}, "GET", e.srv.URL+"/api")
	if resp.StatusCode != 200 || body != bodies[0] || e.op.refreshCalls.Load() != 1 {
		t.Fatalf("late request: %d %q, %d refresh calls", resp.StatusCode, body, e.op.refreshCalls.Load())
	}
	after, err := e.sessionOf(c)
	if err != nil || after.ID != before.ID || after.RefreshedAt.IsZero() || time.Until(after.Expiry) < 59*time.Minute {
		t.Fatalf("refreshed session: %v", err)
	}
	if after.IDToken != before.IDToken || after.Claims["name"] != "alice" {
		t.Error("without a new ID token the old token and claims must be kept")
	}
}

func TestFlowRefreshRotation(t *testing.T) {
	e := newEnv(t, false, nil)
	c := sessionWithShortTokens(t, e)
	first, _ := e.sessionOf(c)
	e.op.set(func(op *testOP) { op.rotate = true; op.refreshExpiresIn = 30; op.refreshIDToken = true })
	var tokens []string
	for i := range 3 {
		if i > 0 {
			// 20s on: into the refreshed tokens' margin (half their 30s).
			e.age(59*time.Minute + 30*time.Second + time.Duration(i)*20*time.Second)
		}
		resp, body := navigate(t, c, "GET", e.srv.URL+"/api")
		if resp.StatusCode != 200 {
			t.Fatalf("request %d after rotation: %d %s", i, resp.StatusCode, body)
		}
		s, _ := e.sessionOf(c)
		tokens = append(tokens, s.RefreshToken)
		if s.IDToken == first.IDToken {
			t.Error("new ID token from the refresh was not stored")
		}
	}
	if n := e.op.refreshCalls.Load(); n != 3 {
		t.Fatalf("%d refresh calls, want 3", n)
	}
	if tokens[0] == first.RefreshToken || tokens[0] == tokens[1] || tokens[1] == tokens[2] {
		t.Fatal("rotated refresh tokens were not kept")
	}

	// A provider that returns no refresh token: the old one is kept.
	e2 := newEnv(t, false, nil)
	c2 := sessionWithShortTokens(t, e2)
	orig, _ := e2.sessionOf(c2)
	e2.op.set(func(op *testOP) { op.noRefreshToken = true; op.refreshExpiresIn = 30 })
	for i := range 2 {
		e2.age(59*time.Minute + 30*time.Second + time.Duration(i)*20*time.Second)
		if resp, body := navigate(t, c2, "GET", e2.srv.URL+"/api"); resp.StatusCode != 200 {
			t.Fatalf("refresh without a new refresh token: %d %s", resp.StatusCode, body)
		}
	}
	kept, _ := e2.sessionOf(c2)
	if kept.RefreshToken != orig.RefreshToken || e2.op.refreshCalls.Load() != 2 {
		t.Fatalf("refresh token not kept (calls %d)", e2.op.refreshCalls.Load())
	}
}

func TestFlowRefreshFailure(t *testing.T) {
	e := newEnv(t, false, nil)
	c := sessionWithShortTokens(t, e)
	e.op.set(func(op *testOP) { op.failRefresh = true })
	noFollow := &http.Client{Jar: c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	// API call: 401, session cleared.
	req, _ := http.NewRequest("GET", e.srv.URL+"/api", nil)
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(string(body), `"login_required":true`) {
		t.Fatalf("API request after failed refresh: %d %s", resp.StatusCode, body)
	}
	cleared := false
	for _, ck := range resp.Cookies() {
		if ck.Name == "edgeauth" && ck.MaxAge < 0 {
			cleared = true
		}
	}
	if !cleared {
		t.Fatal("session cookie not cleared after a failed refresh")
	}
	if _, err := e.sessionOf(c); err == nil {
		t.Fatal("session survived a failed refresh")
	}
	// Browser: sent to login again.
	resp, _ = navigate(t, noFollow, "GET", e.srv.URL+"/app")
	if loc := resp.Header.Get("Location"); resp.StatusCode != 302 || !strings.HasPrefix(loc, e.op.metadata().AuthorizationEndpoint) {
		t.Fatalf("browser after failed refresh: %d %q", resp.StatusCode, loc)
	}
}

func TestFlowExpiredWithoutRefreshToken(t *testing.T) {
	e := newEnv(t, false, nil)
	c := e.browser(t, true)
	if resp, _ := navigate(t, c, "GET", e.srv.URL+"/app"); resp.StatusCode != 200 {
		t.Fatal("login failed")
	}
	// Drop the refresh token from the stored session.
	s, _ := e.sessionOf(c)
	s.RefreshToken = ""
	rec := httptest.NewRecorder()
	if err := e.store.Save(rec, httptest.NewRequest("GET", "/", nil), s); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(e.srv.URL)
	c.Jar.SetCookies(u, rec.Result().Cookies())
	get := func() int {
		req, _ := http.NewRequest("GET", e.srv.URL+"/api", nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// Inside the margin but not expired: still usable.
	e.age(59*time.Minute + 30*time.Second)
	if got := get(); got != 200 {
		t.Fatalf("unexpired session without refresh token: %d", got)
	}
	// Expired: no session.
	e.age(61 * time.Minute)
	if got := get(); got != 401 || e.op.refreshCalls.Load() != 0 {
		t.Fatalf("expired session without refresh token: %d, %d refresh calls", got, e.op.refreshCalls.Load())
	}
	if _, err := e.sessionOf(c); err == nil {
		t.Fatal("expired session not cleared")
	}
}

func TestFlowLogout(t *testing.T) {
	e := newEnv(t, false, nil)
	loggedIn := func() *http.Client {
		c := e.browser(t, true)
		if resp, _ := navigate(t, c, "GET", e.srv.URL+"/app"); resp.StatusCode != 200 {
			t.Fatal("login failed")
		}
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		return c
	}

	// GET, same site: logged out and sent to the provider.
	c := loggedIn()
	s, _ := e.sessionOf(c)
	resp, _ := navigate(t, c, "GET", e.srv.URL+"/oauth2/logout", "Sec-Fetch-Site", "same-origin")
	loc, _ := resp.Location()
	if resp.StatusCode != 302 || loc == nil || !strings.HasPrefix(loc.String(), e.op.metadata().EndSessionEndpoint) {
		t.Fatalf("logout: %d %v", resp.StatusCode, loc)
	}
	q := loc.Query()
	if s == nil || s.IDToken == "" || q.Has("id_token_hint") || strings.Contains(loc.String(), s.IDToken) ||
		q.Get("post_logout_redirect_uri") != "https://app.example.com/bye" || q.Get("client_id") != e.op.clientID || q.Get("state") == "" {
		t.Errorf("end_session parameters: %v; want client_id, post_logout_redirect_uri and state, no id_token_hint", q)
	}
	if _, err := e.sessionOf(c); err == nil {
		t.Fatal("session survived GET logout")
	}

	// GET, cross site: a confirmation page, still logged in.
	c = loggedIn()
	resp, body := navigate(t, c, "GET", e.srv.URL+"/oauth2/logout?rd=/after", "Sec-Fetch-Site", "cross-site")
	if resp.StatusCode != 200 || !strings.Contains(body, `method="post"`) || !strings.Contains(body, `action="/oauth2/logout?rd=%2Fafter"`) {
		t.Fatalf("cross-site logout: %d %s", resp.StatusCode, body)
	}
	if _, err := e.sessionOf(c); err != nil {
		t.Fatal("cross-site GET logged out without confirmation")
	}
	// A cross-site POST: the confirmation page too.
	resp, _ = navigate(t, c, "POST", e.srv.URL+"/oauth2/logout?rd=/after", "Sec-Fetch-Site", "cross-site")
	if resp.StatusCode != 200 {
		t.Fatalf("cross-site POST logout: %d", resp.StatusCode)
	}
	if _, err := e.sessionOf(c); err != nil {
		t.Fatal("cross-site POST logged out without confirmation")
	}
	// The confirm button (a same-origin POST with the page's guard, from a
	// no-referrer page, so with Origin: null): logged out.
	guard := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(body)
	if guard == nil {
		t.Fatalf("confirm page without a guard: %s", body)
	}
	req, _ := http.NewRequest("POST", e.srv.URL+"/oauth2/logout?rd=/after", strings.NewReader(url.Values{"csrf": {html.UnescapeString(guard[1])}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "null")
	if resp, err := c.Do(req); err != nil || resp.StatusCode != 302 {
		t.Fatalf("confirmed POST logout: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if _, err := e.sessionOf(c); err == nil {
		t.Fatal("session survived POST logout")
	}

	// Without end_session_endpoint: back to rd (validated) or /.
	meta := e.op.metadata()
	meta.EndSessionEndpoint = ""
	e.provider.mu.Lock()
	e.provider.meta = meta
	e.provider.mu.Unlock()
	c = loggedIn()
	resp, _ = navigate(t, c, "POST", e.srv.URL+"/oauth2/logout?rd=/after")
	if resp.Header.Get("Location") != "/after" {
		t.Errorf("logout rd: %q", resp.Header.Get("Location"))
	}
	resp, _ = navigate(t, c, "GET", e.srv.URL+"/oauth2/logout?rd="+url.QueryEscape("/\\evil.example"))
	if resp.Header.Get("Location") != "/" {
		t.Errorf("unsafe logout rd: %q", resp.Header.Get("Location"))
	}
	resp, _ = navigate(t, c, "PUT", e.srv.URL+"/oauth2/logout")
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("PUT logout: %d", resp.StatusCode)
	}
}

// TestFlowLogoutIDTokenHint: with LogoutIDTokenHint the session's own ID
// token goes to the end_session_endpoint as id_token_hint.
func TestFlowLogoutIDTokenHint(t *testing.T) {
	e := newEnv(t, false, func(c *FlowConfig) { c.LogoutIDTokenHint = true })
	c := e.browser(t, true)
	if resp, _ := navigate(t, c, "GET", e.srv.URL+"/app"); resp.StatusCode != 200 {
		t.Fatal("login failed")
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	s, err := e.sessionOf(c)
	if err != nil || s.IDToken == "" {
		t.Fatalf("no session with an ID token: %v", err)
	}
	resp, _ := navigate(t, c, "GET", e.srv.URL+"/oauth2/logout", "Sec-Fetch-Site", "same-origin")
	loc, _ := resp.Location()
	if resp.StatusCode != 302 || loc == nil || loc.Query().Get("id_token_hint") != s.IDToken || loc.Query().Get("client_id") != e.op.clientID {
		t.Fatalf("logout: %d, end_session parameters without the session's id_token_hint", resp.StatusCode)
	}
}

func TestFlowUserinfoWithoutSession(t *testing.T) {
	e := newEnv(t, false, nil)
	resp, body := navigate(t, e.browser(t, false), "GET", e.srv.URL+"/oauth2/userinfo")
	var out map[string]string
	if resp.StatusCode != 401 || json.Unmarshal([]byte(body), &out) != nil || out["error"] != "unauthorized" ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("userinfo without session: %d %s", resp.StatusCode, body)
	}
	resp, _ = navigate(t, e.browser(t, false), "GET", e.srv.URL+"/oauth2/nothing")
	if resp.StatusCode != 404 {
		t.Errorf("unknown endpoint: %d", resp.StatusCode)
	}
}

func TestFlowStepUp(t *testing.T) {
	e := newEnv(t, false, func(c *FlowConfig) { c.Scopes = []string{"openid", "profile"} })
	c := e.browser(t, true)
	if resp, _ := navigate(t, c, "GET", e.srv.URL+"/app"); resp.StatusCode != 200 {
		t.Fatal("login failed")
	}
	// A route needing aliuid: one more trip to the provider, then allowed.
	resp, body := navigate(t, c, "GET", e.srv.URL+"/admin?need=aliuid")
	if resp.StatusCode != 200 || e.op.authorizeCalls.Load() != 2 {
		t.Fatalf("step-up: %d %s, %d authorize calls", resp.StatusCode, body, e.op.authorizeCalls.Load())
	}
	if got := e.op.lastAuthorizeArgs.Get("scope"); got != "openid profile aliuid" {
		t.Errorf("step-up asked for %q", got)
	}
	// A scope the provider refuses: asked once, then 403 without a loop.
	e.op.set(func(op *testOP) { op.denyScopes = []string{"admin"} })
	resp, _ = navigate(t, c, "GET", e.srv.URL+"/admin?need=admin")
	if resp.StatusCode != 403 || e.op.authorizeCalls.Load() != 3 {
		t.Fatalf("refused step-up: %d, %d authorize calls (want 403 after one more)", resp.StatusCode, e.op.authorizeCalls.Load())
	}
	resp, _ = navigate(t, c, "GET", e.srv.URL+"/admin?need=admin")
	if resp.StatusCode != 403 || e.op.authorizeCalls.Load() != 3 {
		t.Fatalf("second refusal: %d, %d authorize calls", resp.StatusCode, e.op.authorizeCalls.Load())
	}
	s, _ := e.sessionOf(c)
	if !strings.Contains(strings.Join(s.Refused, " "), "admin") || !strings.Contains(strings.Join(s.Scopes, " "), "aliuid") {
		t.Errorf("session scopes %v refused %v", s.Scopes, s.Refused)
	}
}

func TestFlowMetadataNotLoaded(t *testing.T) {
	e := newEnv(t, false, nil)
	e.provider.mu.Lock()
	e.provider.meta = nil
	e.provider.mu.Unlock()
	resp, _ := navigate(t, e.browser(t, false), "GET", e.srv.URL+"/app")
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("login before metadata: %d", resp.StatusCode)
	}
}

func TestStripOwnCookies(t *testing.T) {
	e := newEnv(t, false, nil)
	h := http.Header{}
	h.Add("Cookie", "a=1; edgeauth=2.xx; __Host-edgeauth_1=yy; edgeauth_login_0123abcd=z")
	h.Add("Cookie", `b="q"; __Host-edgeauth_login_deadbeef=w; edgeauthx=keep`)
	e.flow.StripOwnCookies(h)
	if got := h.Values("Cookie"); len(got) != 1 || got[0] != `a=1; b="q"; edgeauthx=keep` {
		t.Fatalf("stripped cookies: %q", got)
	}
	h = http.Header{"Cookie": {"edgeauth=1"}}
	e.flow.StripOwnCookies(h)
	if _, ok := h["Cookie"]; ok {
		t.Fatal("empty Cookie header left behind")
	}
}

func TestNewFlowValidation(t *testing.T) {
	op := newTestOP(t)
	sealer, _ := session.NewSealer([][]byte{session.RandomSecret()})
	base := FlowConfig{ClientID: "c", ClientSecret: "s", Scopes: []string{"openid"}, Provider: &testProvider{meta: op.metadata()},
		IDTokens: jwtVerifier{op}, Store: session.NewCookieStore(sealer, session.CookieOptions{}, 0), Sealer: sealer}
	if _, err := NewFlow(base); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	for name, tweak := range map[string]func(*FlowConfig){
		"no openid":    func(c *FlowConfig) { c.Scopes = []string{"profile"} },
		"no client id": func(c *FlowConfig) { c.ClientID = "" },
		"no verifier":  func(c *FlowConfig) { c.IDTokens = nil },
		"bad method":   func(c *FlowConfig) { c.AuthMethod = "private_key_jwt" },
		"post, no sec": func(c *FlowConfig) { c.AuthMethod = clientauth.SecretPost; c.ClientSecret = "" },
		"reserved":     func(c *FlowConfig) { c.ExtraAuthParams = map[string]string{"state": "x"} },
		"bad redirect": func(c *FlowConfig) { c.RedirectURL = "/oauth2/callback" },
		"prefix no /":  func(c *FlowConfig) { c.Prefix = "oauth2/" },
		"no store":     func(c *FlowConfig) { c.Store = nil },
	} {
		cfg := base
		tweak(&cfg)
		if _, err := NewFlow(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestFlowShortTokensAreNotRefreshedOnEveryRequest: tokens that live less
// than twice the refresh margin are refreshed at half their life, not on
// every request.
func TestFlowShortTokensAreNotRefreshedOnEveryRequest(t *testing.T) {
	e := newEnv(t, false, nil)
	c := sessionWithShortTokens(t, e)
	e.op.set(func(op *testOP) { op.refreshExpiresIn = 30 })
	for i := range 5 {
		if resp, body := navigate(t, c, "GET", e.srv.URL+"/api"); resp.StatusCode != 200 {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, body)
		}
	}
	if n := e.op.refreshCalls.Load(); n != 1 {
		t.Fatalf("%d refresh calls for 5 requests within the refreshed tokens' first half-life, want 1", n)
	}
	e.age(59*time.Minute + 30*time.Second + 16*time.Second)
	if resp, _ := navigate(t, c, "GET", e.srv.URL+"/api"); resp.StatusCode != 200 {
		t.Fatal("request after the half-life failed")
	}
	if n := e.op.refreshCalls.Load(); n != 2 {
		t.Fatalf("%d refresh calls after the half-life, want 2", n)
	}
}
