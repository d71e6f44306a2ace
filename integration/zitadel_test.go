package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// These tests run the login against an OpenID provider this project did not
// write: the example OP of github.com/zitadel/oidc/v3 with its in-memory
// storage, served over TLS on loopback.

// Zitadel's example users (storage.NewUserStore) and the client registered
// for the gateway.
const (
	zitadelUserID   = "id1"
	zitadelPassword = "verysecure"
	zitadelClientID = "edgeauth-web"
	zitadelSecret   = "edgeauth-web-secret"
)

// zitadelStorage wraps the example storage: it shortens the access tokens'
// reported lifetime (the example's is 5 minutes) so that refresh can be
// tested, and records ended sessions.
type zitadelStorage struct {
	*storage.Storage
	accessTTL  time.Duration
	mu         sync.Mutex
	terminated []string // "<user>/<client>"
}

// CreateAccessToken reports a shorter expiry when accessTTL is set.
func (s *zitadelStorage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	id, exp, err := s.Storage.CreateAccessToken(ctx, req)
	return id, s.shorten(exp), err
}

// CreateAccessAndRefreshTokens reports a shorter expiry when accessTTL is set.
func (s *zitadelStorage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	id, rt, exp, err := s.Storage.CreateAccessAndRefreshTokens(ctx, req, current)
	return id, rt, s.shorten(exp), err
}

func (s *zitadelStorage) shorten(exp time.Time) time.Time {
	if s.accessTTL > 0 {
		return time.Now().Add(s.accessTTL)
	}
	return exp
}

// TerminateSession records the end-session call.
func (s *zitadelStorage) TerminateSession(ctx context.Context, userID, clientID string) error {
	s.mu.Lock()
	s.terminated = append(s.terminated, userID+"/"+clientID)
	s.mu.Unlock()
	return s.Storage.TerminateSession(ctx, userID, clientID)
}

func (s *zitadelStorage) terminations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.terminated...)
}

// zitadelOP is a running example OP.
type zitadelOP struct {
	issuer string
	caFile string
	pool   *x509.CertPool
	store  *zitadelStorage
	tokenN atomic.Int64 // requests to the token endpoint
	authN  atomic.Int64 // requests to the authorization endpoint
	userN  atomic.Int64 // requests to the userinfo endpoint
}

var quietSlog sync.Once

// startZitadel starts the example OP on a loopback TLS port with one web
// client (client_secret_basic, refresh tokens) whose redirect URI is the
// gateway's callback on port.
func startZitadel(t *testing.T, port int, accessTTL time.Duration) *zitadelOP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	z := &zitadelOP{issuer: "https://" + ln.Addr().String()}
	client := storage.WebClient(zitadelClientID, zitadelSecret, fmt.Sprintf("http://127.0.0.1:%d/oauth2/callback", port))
	z.store = &zitadelStorage{
		Storage:   storage.NewStorageWithClients(storage.NewUserStore(z.issuer), map[string]*storage.Client{zitadelClientID: client}),
		accessTTL: accessTTL,
	}
	// SetupServer replaces the process's default slog logger; a discarding
	// one keeps the test output readable.
	var logger *slog.Logger
	quietSlog.Do(func() { logger = slog.New(slog.DiscardHandler) })
	router := exampleop.SetupServer(z.issuer, z.store, logger, false)
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/oauth/token":
			z.tokenN.Add(1)
		case "/auth":
			z.authN.Add(1)
		case "/userinfo":
			z.userN.Add(1)
		}
		router.ServeHTTP(w, r)
	})
	srv := httptest.NewUnstartedServer(counted)
	srv.Listener.Close()
	srv.Listener = ln
	srv.StartTLS()
	t.Cleanup(srv.Close)
	z.pool = x509.NewCertPool()
	z.pool.AddCert(srv.Certificate())
	z.caFile = writeFile(t, "zitadel-ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))
	return z
}

// zitadelConfig is a Caddyfile with the example OP as provider `zitadel`.
func (e *env) zitadelConfig(z *zitadelOP, loginBody string, providerExtra ...string) string {
	extra := ""
	for _, line := range providerExtra {
		extra += "\n\t\t\t" + line
	}
	prov := fmt.Sprintf(`		provider zitadel {
			issuer %s
			client_id %s
			client_secret %s
			tls_ca %s
			scopes openid profile email offline_access%s
		}
		session {
			secret %s
		}`, z.issuer, zitadelClientID, zitadelSecret, z.caFile, extra, secretNew)
	return e.globals(prov) + e.site("edgeauth zitadel", "\t\tlogin {\n\t\t\t"+loginBody+"\n\t\t}\n")
}

// zitadelForms fills the example OP's login form (POST /login/username with
// id, username and password).
func zitadelForms(b *cookieClient, h hop) (string, url.Values, bool) {
	if h.Status != http.StatusOK || h.URL.Path != "/login/username" || b.user == "" {
		return "", nil, false
	}
	m := regexp.MustCompile(`name="id" value="([^"]+)"`).FindSubmatch(h.Body)
	if m == nil {
		b.e.t.Fatalf("zitadel login page without the id field: %s", h.Body)
	}
	u, _ := h.URL.Parse("/login/username")
	return u.String(), url.Values{"id": {string(m[1])}, "username": {b.user}, "password": {b.password}}, true
}

// zitadelCookieClient is a cookie client that trusts the example OP and signs
// in as its first user.
func (e *env) zitadelCookieClient(z *zitadelOP) *cookieClient {
	b := e.newCookieClient("")
	b.user, b.password, b.fill = "test-user@127.0.0.1", zitadelPassword, zitadelForms
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: z.pool, MinVersion: tls.VersionTLS12}
	e.t.Cleanup(tr.CloseIdleConnections)
	b.client.Transport = tr
	return b
}

// startWithZitadel runs Caddy against the example OP and waits until a
// browser navigation is sent to it (metadata loaded).
func startWithZitadel(t *testing.T, accessTTL time.Duration, loginBody string, providerExtra ...string) (*env, *zitadelOP) {
	t.Helper()
	e := newEnv(t, demoidp.Options{})
	z := startZitadel(t, e.port, accessTTL)
	e.start(e.zitadelConfig(z, loginBody, providerExtra...))
	waitFor(t, "the example OP's metadata", 10*time.Second, func() bool {
		resp, _ := e.get("/", "", "Accept: text/html")
		return resp.StatusCode == http.StatusFound && strings.HasPrefix(resp.Header.Get("Location"), z.issuer+"/auth?")
	})
	// The keys load after the metadata: a callback before them cannot
	// verify the ID token (seen under CI load).
	waitFor(t, "the example OP's keys", 10*time.Second, func() bool {
		var ps providersAnswer
		status, body := e.adminCall(http.MethodGet, "/edgeauth/providers")
		if status != http.StatusOK || json.Unmarshal(body, &ps) != nil {
			return false
		}
		for _, p := range ps.Providers {
			if p.KeysLoaded == 0 {
				return false
			}
		}
		return len(ps.Providers) > 0
	})
	return e, z
}

func TestZitadelLogin(t *testing.T) {
	for _, method := range []string{"", "client_secret_basic", "client_secret_post"} {
		name := method
		if name == "" {
			name = "from discovery"
		}
		t.Run(name, func(t *testing.T) {
			body := ""
			if method != "" {
				body = "auth_method " + method
			}
			e, z := startWithZitadel(t, 0, body)
			b := e.zitadelCookieClient(z)
			hops := b.login("/app?x=1")
			if end := last(hops); end.URL.RequestURI() != "/app?x=1" {
				t.Errorf("login ended at %s", end.URL.RequestURI())
			}
			got := e.upstreamSaw(b.api("/"))
			if got.header("X-Auth-Subject") != zitadelUserID || got.header("X-Auth-Issuer") != z.issuer {
				t.Errorf("upstream identity: sub %q iss %q", got.header("X-Auth-Subject"), got.header("X-Auth-Issuer"))
			}
			if c := got.header("Cookie"); c != "" {
				t.Errorf("the gateway's cookies reached the upstream: %.80s", c)
			}
			status, info := b.userinfo()
			if status != http.StatusOK || info["sub"] != zitadelUserID || info["provider"] != "zitadel" {
				t.Errorf("userinfo: %d %v", status, info)
			}
		})
	}
}

// The example OP, like the OIDC spec (Core §5.4), puts profile and email
// claims in the ID token only when no access token is issued; with the code
// flow they are at the userinfo endpoint. Relying parties such as
// mod_auth_openidc and oauth2-proxy fetch them there at login.
func TestZitadelProfileClaimsFromUserinfo(t *testing.T) {
	e, z := startWithZitadel(t, 0, "")
	b := e.zitadelCookieClient(z)
	b.login("/")
	got := e.upstreamSaw(b.api("/"))
	if got.header("X-Auth-Email") != "test-user@zitadel.ch" || got.header("X-Auth-Name") != "Test User" {
		t.Errorf("upstream X-Auth-Email %q X-Auth-Name %q, want the userinfo claims test-user@zitadel.ch / Test User (userinfo endpoint called %d times)",
			got.header("X-Auth-Email"), got.header("X-Auth-Name"), z.userN.Load())
	}
}

func TestZitadelParallelTabsTamperingAndReplay(t *testing.T) {
	e, z := startWithZitadel(t, 0, "")
	b := e.zitadelCookieClient(z)

	// Each tab goes through the OP's login form and stops at the redirect
	// back to the gateway.
	callback := func(b *cookieClient, path string) string {
		t.Helper()
		for _, h := range b.navigateUntil(e.url(path), "/oauth2/callback") {
			if h.Location != "" && strings.Contains(h.Location, "/oauth2/callback?") {
				return h.Location
			}
		}
		t.Fatalf("no redirect back to the gateway for %s", path)
		return ""
	}
	cbs := []string{callback(b, "/one"), callback(b, "/two"), callback(b, "/three")}
	for _, i := range []int{1, 2, 0} {
		h := b.do(http.MethodGet, cbs[i], nil)
		want := []string{"/one", "/two", "/three"}[i]
		if h.Status != http.StatusFound || h.Location != want || !setsSession(h) {
			t.Errorf("tab %s: callback %d → %q (session set: %v); body %.200s", want, h.Status, h.Location, setsSession(h), h.Body)
		}
	}
	e.upstreamSaw(b.api("/"))

	// Replay of a used callback, in the same and in a fresh browser.
	if h := b.do(http.MethodGet, cbs[0], nil); h.Status < 400 || h.Status > 499 || setsSession(h) {
		t.Errorf("replayed callback: %d (session set: %v)", h.Status, setsSession(h))
	}
	// Tampered state.
	c := e.zitadelCookieClient(z)
	cb, _ := url.Parse(callback(c, "/x"))
	q := cb.Query()
	q.Set("state", q.Get("state")+"x")
	cb.RawQuery = q.Encode()
	if h := c.do(http.MethodGet, cb.String(), nil); h.Status < 400 || h.Status > 499 || setsSession(h) {
		t.Errorf("tampered state: %d (session set: %v)", h.Status, setsSession(h))
	}
	if len(c.sessionCookies()) != 0 {
		t.Error("a tampered callback left a session")
	}
}

// navigateUntil is navigate, stopping before the first request whose path
// is stop (the hop that redirects there is the last one returned).
func (b *cookieClient) navigateUntil(target, stop string) []hop {
	b.e.t.Helper()
	fill := b.fill
	defer func() { b.fill = fill }()
	var hops []hop
	method, next, form := http.MethodGet, target, url.Values(nil)
	for range 25 {
		u, _ := url.Parse(next)
		if u.Path == stop {
			return hops
		}
		h := b.do(method, next, form)
		hops = append(hops, h)
		if h.Status >= 300 && h.Status < 400 && h.Location != "" {
			loc, _ := h.URL.Parse(h.Location)
			method, next, form = http.MethodGet, loc.String(), nil
			continue
		}
		action, f, ok := fill(b, h)
		if !ok {
			return hops
		}
		method, next, form = http.MethodPost, action, f
	}
	b.e.t.Fatalf("more than 25 hops from %s", target)
	return nil
}

func TestZitadelRefreshAndLogout(t *testing.T) {
	const ttl = 3 * time.Second
	e, z := startWithZitadel(t, ttl, "")
	b := e.zitadelCookieClient(z)
	b.login("/")
	loggedIn := time.Now()

	burst := func(name string) {
		t.Helper()
		before := z.tokenN.Load()
		var wg sync.WaitGroup
		var failed atomic.Int64
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest(http.MethodGet, e.url("/"), nil)
				req.Header.Set("Accept", "application/json")
				resp, err := b.client.Do(req)
				if err != nil {
					failed.Add(1)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
			}()
		}
		wg.Wait()
		if n := failed.Load(); n > 0 {
			t.Errorf("%s: %d of 20 concurrent requests failed", name, n)
		}
		if d := z.tokenN.Load() - before; d != 1 {
			t.Errorf("%s: %d token endpoint calls for 20 concurrent requests, want 1 refresh", name, d)
		}
	}
	// Half the tokens' life is the refresh margin for such short tokens.
	time.Sleep(time.Until(loggedIn.Add(ttl/2 + 300*time.Millisecond)))
	burst("before expiry")
	time.Sleep(time.Until(loggedIn.Add(ttl + 1500*time.Millisecond)))
	// The example OP rotates refresh tokens (the old one is deleted): this
	// refresh only works with the rotated one.
	burst("after expiry")
	got := e.upstreamSaw(b.api("/"))
	if got.header("X-Auth-Subject") != zitadelUserID {
		t.Errorf("after refresh the upstream saw sub %q", got.header("X-Auth-Subject"))
	}

	// Logout: the session cookie is cleared and the OP's end_session
	// endpoint accepts client_id alone (no id_token_hint by default:
	// TestRedTeamLogoutURLCarriesNoIDToken). The example OP keeps no login
	// session of its own, so it ends the client's session without a user; a
	// real ZITADEL finds the user from its own session cookie.
	h := b.do(http.MethodGet, e.url("/oauth2/logout"), nil, "Sec-Fetch-Site: same-origin")
	if h.Status != http.StatusFound || !strings.HasPrefix(h.Location, z.issuer+"/end_session?") {
		t.Fatalf("logout: %d → %q, want the OP's end_session_endpoint", h.Status, redactURL(h.Location))
	}
	if q := mustQuery(t, h.Location); q.Has("id_token_hint") || q.Get("client_id") != zitadelClientID || jwtShape.MatchString(h.Location) {
		t.Errorf("logout URL: id_token_hint present=%v client_id=%q; want client_id alone", q.Has("id_token_hint"), q.Get("client_id"))
	}
	if len(b.sessionCookies()) != 0 {
		t.Error("session cookies left after logout")
	}
	end := last(b.navigate(h.Location))
	if end.Status != http.StatusOK || !strings.Contains(string(end.Body), "signed out successfully") {
		t.Errorf("the OP's logout ended with %d %.200s", end.Status, end.Body)
	}
	if got := z.store.terminations(); len(got) != 1 || got[0] != "/"+zitadelClientID {
		t.Errorf("the OP ended sessions %v, want /%s (client_id, no hint)", got, zitadelClientID)
	}
	if status, _ := b.userinfo(); status != http.StatusUnauthorized {
		t.Errorf("userinfo after logout: %d", status)
	}
}

// TestZitadelLogoutIDTokenHint: with `logout_id_token_hint` (allowed because
// `token_types at+jwt` refuses ID tokens as bearer tokens) the OP gets a
// valid id_token_hint and ends the user's session; the hinted token gets
// 401 at the gateway.
func TestZitadelLogoutIDTokenHint(t *testing.T) {
	e, z := startWithZitadel(t, 0, "logout_id_token_hint", "token_types at+jwt")
	b := e.zitadelCookieClient(z)
	b.login("/")
	h := b.do(http.MethodGet, e.url("/oauth2/logout"), nil, "Sec-Fetch-Site: same-origin")
	if h.Status != http.StatusFound || !strings.HasPrefix(h.Location, z.issuer+"/end_session?") {
		t.Fatalf("logout: %d → %q, want the OP's end_session_endpoint", h.Status, redactURL(h.Location))
	}
	hint := mustQuery(t, h.Location).Get("id_token_hint")
	if hint == "" {
		t.Fatal("logout_id_token_hint is set but the logout URL has no id_token_hint")
	}
	if resp, body := e.get("/", hint, "Accept: application/json"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the hinted ID token as a bearer token: %d, want 401; %.200s", resp.StatusCode, body)
	}
	end := last(b.navigate(h.Location))
	if end.Status != http.StatusOK || !strings.Contains(string(end.Body), "signed out successfully") {
		t.Errorf("the OP's logout ended with %d %.200s", end.Status, end.Body)
	}
	if got := z.store.terminations(); len(got) != 1 || got[0] != zitadelUserID+"/"+zitadelClientID {
		t.Errorf("the OP ended sessions %v, want %s/%s (from the id_token_hint)", got, zitadelUserID, zitadelClientID)
	}
}

// mustQuery parses a URL's query.
func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("bad URL %q: %v", redactURL(raw), err)
	}
	return u.Query()
}
