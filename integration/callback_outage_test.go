package integration

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
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

// jwksSwitch is a JWKS endpoint on loopback that the test turns down (503),
// points at a wrong key under the provider's key ID, or serves the
// provider's real key set.
type jwksSwitch struct {
	mode atomic.Int32 // jwksDown, jwksForged or jwksUp
	real func() map[string]any
	fake map[string]any
	hits atomic.Int64
}

const (
	jwksDown int32 = iota
	jwksForged
	jwksUp
)

func (j *jwksSwitch) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	j.hits.Add(1)
	var set map[string]any
	switch j.mode.Load() {
	case jwksForged:
		set = j.fake
	case jwksUp:
		set = j.real()
	default:
		w.Header().Set("Retry-After", "1")
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(set)
}

// TestRedTeamLoginCallbackKeyOutageIs503: while the provider's signing keys
// cannot be fetched (its JWKS endpoint answers 503), a login whose code
// exchange succeeds ends on a 503 page with Retry-After, like the other
// provider outages, and sets no session; it is not reported as an invalid
// ID token. That holds before any key has loaded and after the provider
// rotated to a key the gateway has not seen. An ID token whose signature
// does not verify with the loaded keys is still refused with 400, and with
// the real keys the login completes.
func TestRedTeamLoginCallbackKeyOutageIs503(t *testing.T) {
	e := newEnv(t, demoidp.Options{AutoApprove: true})
	// A wrong key published under the provider's current key ID.
	other, err := demoidp.New(demoidp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	forged := other.JWKS()
	forged["keys"].([]map[string]string)[0]["kid"] = e.idp.CurrentKID()
	sw := &jwksSwitch{real: e.idp.JWKS, fake: forged}
	jwks := httptest.NewServer(sw)
	t.Cleanup(jwks.Close)

	const cooldown = 200 * time.Millisecond // between two refetches for unknown key IDs
	e.start(e.loginConfig(loginOpts{login: "param login_hint alice",
		providerExtra: []string{"jwks_uri " + jwks.URL + "/jwks", "kid_cooldown " + cooldown.String()}}))
	// Discovery loads (a navigation is sent to the provider) while the
	// keys cannot.
	waitFor(t, "the provider's metadata", 30*time.Second, func() bool {
		resp, _ := e.get("/", "", "Accept: text/html")
		return resp.StatusCode == http.StatusFound
	})
	if resp, _ := e.get("/", e.aliceToken()); resp.StatusCode != http.StatusServiceUnavailable || sw.hits.Load() == 0 {
		t.Fatalf("bearer token before the keys loaded: %d after %d JWKS requests, want 503 after at least one", resp.StatusCode, sw.hits.Load())
	}

	b := e.newCookieClient("alice")
	h := b.do(http.MethodGet, e.beginLogin(b), nil)
	outage := func(name string, b *cookieClient, h hop) {
		t.Helper()
		if h.Status != http.StatusServiceUnavailable {
			t.Fatalf("%s: callback answered %d, want 503; body %.300s", name, h.Status, h.Body)
		}
		if n, err := strconv.Atoi(h.Header.Get("Retry-After")); err != nil || n < 1 {
			t.Errorf("%s: Retry-After %q, want whole seconds ≥ 1", name, h.Header.Get("Retry-After"))
		}
		if ct := h.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("%s: Content-Type %q, want the login's HTML error page", name, ct)
		}
		if !bytes.Contains(h.Body, []byte("Sign-in unavailable")) || bytes.Contains(h.Body, []byte("not valid")) {
			t.Errorf("%s: page %.300s, want the outage page, not an invalid-token one", name, h.Body)
		}
		if setsSession(h) || len(b.sessionCookies()) != 0 {
			t.Errorf("%s: a session was set", name)
		}
	}
	outage("no keys loaded yet", b, h)

	// The JWKS answers again, but with a wrong key for the kid: the ID
	// token's signature does not verify, which stays a 400.
	sw.mode.Store(jwksForged)
	waitFor(t, "the forged keys to load", 40*time.Second, func() bool {
		resp, _ := e.get("/", e.aliceToken())
		return resp.StatusCode == http.StatusUnauthorized
	})
	b = e.newCookieClient("alice")
	h = b.do(http.MethodGet, e.beginLogin(b), nil)
	if h.Status != http.StatusBadRequest || h.Header.Get("Retry-After") != "" {
		t.Errorf("callback with an ID token that fails its signature check answered %d (Retry-After %q), want 400 without; body %.300s", h.Status, h.Header.Get("Retry-After"), h.Body)
	}
	if setsSession(h) || len(b.sessionCookies()) != 0 {
		t.Error("a session was set for an ID token with a bad signature")
	}

	// The real keys, under a new kid (fetched as an unknown kid): the login
	// completes.
	sw.mode.Store(jwksUp)
	e.idp.RotateKey()
	e.newCookieClient("alice").login("/")

	// The provider rotates its key while its JWKS is down: the new kid
	// cannot be looked up, which is an outage too.
	sw.mode.Store(jwksDown)
	e.idp.RotateKey()
	time.Sleep(cooldown + 50*time.Millisecond) // let the next unknown kid refetch
	b = e.newCookieClient("alice")
	outage("rotated key while the JWKS is down", b, b.do(http.MethodGet, e.beginLogin(b), nil))
	// A bearer token signed with that key cannot be judged either: 503
	// with Retry-After, not a 401 that would make its client drop it.
	rotated := e.aliceToken()
	resp, body := e.get("/", rotated)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !bytes.Contains(body, []byte("temporarily_unavailable")) {
		t.Errorf("bearer token with the rotated key while the JWKS is down: %d (Retry-After %q) %.200s, want 503 temporarily_unavailable", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}

	// The JWKS is back: the next refetch finds the key and a login completes.
	sw.mode.Store(jwksUp)
	time.Sleep(cooldown + 50*time.Millisecond)
	e.newCookieClient("alice").login("/")
	if resp, _ := e.get("/", rotated); resp.StatusCode != http.StatusOK {
		t.Errorf("bearer token with the rotated key once the JWKS is back: %d, want 200", resp.StatusCode)
	}
}
