package integration

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// bearerSite is the Caddyfile most bearer tests run: the demo provider, and a
// site with public, scope and claim rules and one templated header.
func bearerSite(e *env, providerExtra ...string) string {
	return e.globals(e.providerBlock("demo", append([]string{"max_token_age 12h", "thumbprints " + e.idp.CAThumbprint()}, providerExtra...)...)) +
		e.site("edgeauth demo", `		public /healthz /public/*
		scope /dns/* /acs/alidns
		claim /billing/* type account
		header X-Login {http.auth.user.login_name}`)
}

// startBearer starts the default world and waits until the provider's keys
// are loaded (a valid token passes).
func startBearer(t *testing.T, opts demoidp.Options) (*env, string) {
	t.Helper()
	e := newEnv(t, opts)
	e.start(bearerSite(e))
	alice := e.aliceToken()
	waitFor(t, "the provider's keys", 10*time.Second, func() bool {
		resp, _ := e.get("/", alice)
		return resp.StatusCode == http.StatusOK
	})
	return e, alice
}

func (e *env) aliceToken(opts ...demoidp.MintOption) string {
	e.t.Helper()
	tok, err := e.idp.MintFor("alice", []string{"openid", "aliuid", "profile", "email", "/acs/alidns"}, opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func TestBearerIdentityReachesUpstream(t *testing.T) {
	e, alice := startBearer(t, demoidp.Options{})
	got := e.upstreamSaw(e.get("/orders?x=1", alice))
	want := map[string]string{
		"X-Auth-Subject":    "2000000000000002",
		"X-Auth-Issuer":     e.idp.Issuer(),
		"X-Auth-Scopes":     "openid aliuid profile email /acs/alidns",
		"X-Auth-Account-Id": demoidp.DemoAccountID,
		"X-Auth-User-Id":    "2000000000000002",
		"X-Auth-User-Type":  "user",
		"X-Auth-Upn":        "alice@example.onaliyun.com",
		"X-Auth-Name":       "Alice Liddell",
		"X-Auth-Email":      "alice@example.com",
	}
	for name, value := range want {
		if got.header(name) != value {
			t.Errorf("upstream header %s = %q, want %q", name, got.header(name), value)
		}
	}
	// alice has no login_name: the templated header is absent, not empty.
	if _, present := got.Headers["X-Login"]; present {
		t.Errorf("X-Login was sent although the claim is absent: %q", got.Headers["X-Login"])
	}
	if got.header("Authorization") != "Bearer "+alice {
		t.Errorf("the original Authorization header did not reach the upstream")
	}

	// The account owner has login_name: the template fills it.
	root, err := e.idp.MintFor("root", []string{"openid", "profile"})
	if err != nil {
		t.Fatal(err)
	}
	got = e.upstreamSaw(e.get("/", root))
	if got.header("X-Login") != "owner@example.com" {
		t.Errorf("X-Login = %q, want the login_name claim", got.header("X-Login"))
	}
}

func TestBearerChallenges(t *testing.T) {
	e, alice := startBearer(t, demoidp.Options{})
	realm := fmt.Sprintf(`Bearer realm="127.0.0.1:%d"`, e.port)

	resp, body := e.get("/", "")
	assertError(t, resp, body, http.StatusUnauthorized, "unauthorized")
	if got := resp.Header.Get("WWW-Authenticate"); got != realm {
		t.Errorf("no credential: WWW-Authenticate = %q, want %q", got, realm)
	}

	// A token in the query string is never read.
	resp, body = e.get("/?access_token="+alice, "")
	assertError(t, resp, body, http.StatusUnauthorized, "unauthorized")

	// Another scheme is not a credential.
	resp, body = e.get("/", "", "Authorization: Basic YWxpY2U6YWxpY2UtcGFzcw==")
	assertError(t, resp, body, http.StatusUnauthorized, "unauthorized")

	resp, body = e.get("/", "not-a-token")
	assertError(t, resp, body, http.StatusUnauthorized, "invalid_token")
	if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, realm+`, error="invalid_token", error_description="`) {
		t.Errorf("bad token: WWW-Authenticate = %q", got)
	}
	if strings.Contains(string(body), "not-a-token") {
		t.Errorf("the body echoes the token: %s", body)
	}

	bob, err := e.idp.MintFor("bob", []string{"openid", "aliuid", "profile"})
	if err != nil {
		t.Fatal(err)
	}
	resp, body = e.get("/dns/records", bob)
	assertError(t, resp, body, http.StatusForbidden, "insufficient_scope")
	if got := resp.Header.Get("WWW-Authenticate"); got != realm+`, error="insufficient_scope", error_description="the token lacks a scope this route needs", scope="/acs/alidns"` {
		t.Errorf("missing scope: WWW-Authenticate = %q", got)
	}
	e.upstreamSaw(e.get("/dns/records", alice))

	// Claim rule: /billing/* needs type=account. alice is a RAM user.
	resp, body = e.get("/billing/invoices", alice)
	assertError(t, resp, body, http.StatusForbidden, "access_denied")
	if got := resp.Header.Get("WWW-Authenticate"); got != realm+`, error="insufficient_scope"` {
		t.Errorf("claim rule: WWW-Authenticate = %q", got)
	}
	root, err := e.idp.MintFor("root", []string{"openid", "profile"})
	if err != nil {
		t.Fatal(err)
	}
	e.upstreamSaw(e.get("/billing/invoices", root))

	// Public routes need nothing.
	e.upstreamSaw(e.get("/public/logo.png", ""))
}

// assertError checks an RFC 6750 error answer's status and JSON body.
func assertError(t *testing.T, resp *http.Response, body []byte, status int, code string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d; body %s", resp.StatusCode, status, body)
	}
	var got struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, body)
	}
	if got.Error != code {
		t.Fatalf("body error = %q, want %q (%s)", got.Error, code, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
}

// TestBearerAttacks presents the known attacks on JWT validators; each must
// get 401 invalid_token and reach nothing.
func TestBearerAttacks(t *testing.T) {
	e, _ := startBearer(t, demoidp.Options{})

	var jkuHits atomic.Int64
	jku := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		jkuHits.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	defer jku.Close()

	now := time.Now()
	base := func() map[string]any {
		return map[string]any{
			"sub": "2000000000000002", "iss": e.idp.Issuer(), "aud": demoidp.DefaultClientID,
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		}
	}
	with := func(k string, v any) map[string]any {
		c := base()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}

	// raw signs exactly the given claims (no defaults filled in).
	raw := func(c map[string]any, opts ...demoidp.MintOption) string {
		return e.mint(c, append(opts, demoidp.WithoutDefaults())...)
	}
	cases := map[string]string{
		"alg none":              unsigned(base()),
		"HS256 with public key": hs256WithPublicKey(t, e, base()),
		"embedded jwk":          raw(base(), demoidp.WithHeader("jwk", map[string]any{"kty": "oct", "k": "c2VjcmV0"})),
		"jku header":            raw(base(), demoidp.WithHeader("jku", jku.URL+"/jwks")),
		"x5u header":            raw(base(), demoidp.WithHeader("x5u", jku.URL+"/cert.pem")),
		"crit header":           raw(base(), demoidp.WithHeader("crit", []string{"exp"})),
		"expired":               raw(with("exp", now.Add(-2*time.Minute).Unix())),
		"no exp":                raw(with("exp", nil)),
		"not yet valid":         raw(with("nbf", now.Add(5*time.Minute).Unix())),
		"issued in the future":  raw(with("iat", now.Add(5*time.Minute).Unix())),
		"older than max age":    raw(with("iat", now.Add(-13*time.Hour).Unix())),
		"wrong issuer":          raw(with("iss", "https://evil.example.com")),
		"issuer with slash":     raw(with("iss", e.idp.Issuer()+"/")),
		"no issuer":             raw(with("iss", nil)),
		"wrong audience":        raw(with("aud", "someone-else")),
		"no audience":           raw(with("aud", nil)),
		"algorithm not allowed": raw(base(), demoidp.WithKID(e.idp.AddKey("ES256"))),
		"bad signature":         tamper(raw(base())),
		"garbage":               "a.b.c",
		"oversized":             raw(with("pad", strings.Repeat("A", 20001))),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			resp, body := e.get("/", tok)
			assertError(t, resp, body, http.StatusUnauthorized, "invalid_token")
			if strings.Contains(resp.Header.Get("WWW-Authenticate"), tok) || strings.Contains(string(body), tok) {
				t.Error("the answer echoes the token")
			}
		})
	}
	if n := jkuHits.Load(); n != 0 {
		t.Errorf("a URL from a token header was fetched %d times", n)
	}
}

// unsigned builds an `alg: none` token.
func unsigned(claims map[string]any) string {
	h, _ := json.Marshal(map[string]any{"alg": "none", "typ": "JWT"})
	p, _ := json.Marshal(claims)
	return b64(h) + "." + b64(p) + "."
}

// hs256WithPublicKey signs with HMAC, using the provider's RSA public key (PEM)
// as the secret: the classic key-confusion attack.
func hs256WithPublicKey(t *testing.T, e *env, claims map[string]any) string {
	kid := e.idp.CurrentKID()
	der, err := x509.MarshalPKIXPublicKey(e.idp.PublicKey(kid))
	if err != nil {
		t.Fatal(err)
	}
	secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	h, _ := json.Marshal(map[string]any{"alg": "HS256", "typ": "JWT", "kid": kid})
	p, _ := json.Marshal(claims)
	input := b64(h) + "." + b64(p)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(input))
	return input + "." + b64(mac.Sum(nil))
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// tamper flips a character of the signature.
func tamper(tok string) string {
	i := strings.LastIndexByte(tok, '.') + 5
	c := byte('A')
	if tok[i] == 'A' {
		c = 'B'
	}
	return tok[:i] + string(c) + tok[i+1:]
}

func TestBearerClaimWithControlBytesIsNotExported(t *testing.T) {
	e, _ := startBearer(t, demoidp.Options{})
	tok := e.mint(map[string]any{
		"sub":  "2000000000000002",
		"name": "Mallory\r\nX-Injected: yes\x00\x7f",
		"upn":  "mallory@example.onaliyun.com",
	})
	got := e.upstreamSaw(e.get("/", tok))
	if got.header("X-Auth-Name") != "" {
		t.Errorf("X-Auth-Name = %q, want no header for a claim with control characters", got.header("X-Auth-Name"))
	}
	if got.header("X-Auth-Upn") != "mallory@example.onaliyun.com" {
		t.Errorf("X-Auth-Upn = %q: the clean claims must still be exported", got.header("X-Auth-Upn"))
	}
	if got.header("X-Injected") != "" {
		t.Error("a claim split the header block")
	}
}

func TestBearerKeyRotationAndKidFlood(t *testing.T) {
	e, _ := startBearer(t, demoidp.Options{})

	// A key the gateway has never seen is picked up by one refetch.
	before := e.idp.Counts().JWKS
	e.idp.RotateKey()
	e.upstreamSaw(e.get("/", e.aliceToken()))
	if d := e.idp.Counts().JWKS - before; d != 1 {
		t.Fatalf("rotation caused %d JWKS fetches, want 1", d)
	}

	// A flood of unknown kids inside the cooldown (which the rotation refetch
	// just started) causes no fetch at all, and every request is refused.
	before = e.idp.Counts().JWKS
	var wg sync.WaitGroup
	var accepted atomic.Int64
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			tok := e.aliceToken(demoidp.WithHeader("kid", fmt.Sprintf("unknown-%d", i)))
			req, _ := http.NewRequest(http.MethodGet, e.url("/"), nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := e.client.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				accepted.Add(1)
			}
		}(i)
	}
	wg.Wait()
	if accepted.Load() != 0 {
		t.Errorf("%d tokens with unknown kids were not refused with 401", accepted.Load())
	}
	if d := e.idp.Counts().JWKS - before; d != 0 {
		t.Errorf("an unknown-kid flood inside the cooldown caused %d JWKS fetches, want 0", d)
	}
}

func TestBearerKidFloodAfterCooldownFetchesOnce(t *testing.T) {
	e := newEnv(t, demoidp.Options{})
	e.start(bearerSite(e, "kid_cooldown 1s"))
	waitFor(t, "the provider's keys", 10*time.Second, func() bool {
		resp, _ := e.get("/", e.aliceToken())
		return resp.StatusCode == http.StatusOK
	})
	time.Sleep(1100 * time.Millisecond) // past any earlier window
	before := e.idp.Counts().JWKS
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, e.url("/"), nil)
			req.Header.Set("Authorization", "Bearer "+e.aliceToken(demoidp.WithHeader("kid", fmt.Sprintf("flood-%d", i))))
			if resp, err := e.client.Do(req); err == nil {
				resp.Body.Close()
			}
		}(i)
	}
	wg.Wait()
	if d := e.idp.Counts().JWKS - before; d != 1 {
		t.Errorf("50 concurrent unknown kids caused %d JWKS fetches, want exactly 1 (shared)", d)
	}
}

// TestHeaderSpoofing sends every spelling of the identity headers; none may
// reach the upstream, on public or protected routes, even with Caddy's
// underscore and dot filters widened.
func TestHeaderSpoofing(t *testing.T) {
	e := newEnv(t, demoidp.Options{})
	e.serverOpts = append(e.serverOpts, "expected_underscore_headers x_auth_* x_sts_* x_login", "expected_dot_headers x.auth.*")
	e.start(bearerSite(e))
	alice := e.aliceToken()
	waitFor(t, "the provider's keys", 10*time.Second, func() bool {
		resp, _ := e.get("/", alice)
		return resp.StatusCode == http.StatusOK
	})
	spoofs := []string{
		"X-Auth-Subject: evil", "x-auth-subject: evil", "X-AUTH-SUBJECT: evil",
		"X_Auth_Subject: evil", "x_auth_upn: evil", "X-Auth_Scopes: evil",
		"X.Auth.Subject: evil",
		"X-Sts-Access-Key-Id: evil", "x_sts_security_token: evil",
		"X-Login: evil", "x_login: evil",
		"X-Auth-Anything-Else: evil",
	}
	for _, path := range []string{"/public/page", "/", "/dns/x"} {
		for _, bearer := range []string{"", alice} {
			if bearer == "" && path != "/public/page" {
				continue
			}
			got := e.upstreamSaw(e.get(path, bearer, spoofs...))
			for name, values := range got.Headers {
				for _, v := range values {
					if v == "evil" {
						t.Errorf("%s (token: %v): spoofed header %s reached the upstream", path, bearer != "", name)
					}
				}
			}
			if bearer != "" && path != "/public/page" && got.header("X-Auth-Subject") != "2000000000000002" {
				t.Errorf("%s: X-Auth-Subject = %q", path, got.header("X-Auth-Subject"))
			}
		}
	}
	// Harmless look-alikes survive.
	got := e.upstreamSaw(e.get("/public/page", "", "X-Authx: keep", "X-Authorization-Hint: keep"))
	if got.header("X-Authx") != "keep" || got.header("X-Authorization-Hint") != "keep" {
		t.Errorf("headers outside the stripped prefixes were removed: %v", got.Headers)
	}
}

// TestPathTricksAroundPublicRules tries to reach a protected route through a
// public rule; every variant must be refused.
func TestPathTricksAroundPublicRules(t *testing.T) {
	e := newEnv(t, demoidp.Options{})
	e.start(e.globals(e.providerBlock("demo")) + e.site("edgeauth demo", `		public /*
		scope /admin/* profile
		claim /billing billing_admin true`))
	tricks := []string{
		"/admin/users", "/ADMIN/users", "/Admin/users", "//admin/users", "/./admin/users",
		"/public/../admin/users", "/public/%2e%2e/admin/users", "/admin/./users",
		"/admin%2fusers", "/admin%2Fusers", "/%61dmin/users", "/admin/users/", "/admin//users",
		"///admin/users", "/public/..%2fadmin/users", "/admin;/users",
		"/billing", "/BILLING", "/billing/.", "//billing", "/public/../billing",
	}
	for _, p := range tricks {
		status, body := e.rawGet(p)
		if status == http.StatusOK && strings.Contains(body, `"headers"`) {
			t.Errorf("%s reached the upstream without a token: %d %s", p, status, body)
		}
		if status != http.StatusUnauthorized && status != http.StatusBadRequest && status != http.StatusNotFound {
			t.Errorf("%s: status %d, want a refusal", p, status)
		}
	}
	// An exact pattern is exact, as in Caddy's own routing: /billing/ is
	// another route than /billing (write `/billing*` to cover both).
	if status, _ := e.rawGet("/billing/"); status != http.StatusOK {
		t.Errorf("/billing/ is not covered by `claim /billing`, as Caddy routes it; status %d", status)
	}
	e.upstreamSaw(e.get("/anything/else", ""))
}

func TestProviderDownAtStartFailsClosedThenRecovers(t *testing.T) {
	e := newEnv(t, demoidp.Options{})
	e.idp.SetDown(true)
	e.start(bearerSite(e)) // Caddy starts although the provider is down
	alice := e.aliceToken()
	resp, body := e.get("/", alice)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("keys not loaded: status %d, Retry-After %q, want 503 with Retry-After; %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	resp, _ = e.get("/", "")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no credential while keys are missing: status %d, want 401", resp.StatusCode)
	}
	e.idp.SetDown(false)
	waitFor(t, "recovery after the provider came up", 15*time.Second, func() bool {
		resp, _ := e.get("/", alice)
		return resp.StatusCode == http.StatusOK
	})

	// Down again: cached keys keep validating new tokens.
	e.idp.SetDown(true)
	e.upstreamSaw(e.get("/", e.aliceToken()))
}

func TestThumbprintMismatchKeepsKeysOut(t *testing.T) {
	e := newEnv(t, demoidp.Options{})
	e.start(e.globals(e.providerBlock("demo", "thumbprints 0000000000000000000000000000000000000000")) + e.site("edgeauth demo", ""))
	time.Sleep(500 * time.Millisecond)
	resp, body := e.get("/", e.aliceToken())
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("thumbprint mismatch: status %d, want 503 (keys never load); %s", resp.StatusCode, body)
	}
	if e.idp.Counts().JWKS != 0 {
		t.Errorf("the JWKS was served %d times over a connection whose chain did not match", e.idp.Counts().JWKS)
	}
}
