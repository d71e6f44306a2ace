package fleet

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/edgeauth/caddy-edgeauth/module/oidc"
	"github.com/edgeauth/caddy-edgeauth/module/session"
	"github.com/edgeauth/caddy-edgeauth/module/token"
)

const testIssuer = "https://op.example"

type staticKeys struct{ key oidc.Key }

func (s staticKeys) Key(_ context.Context, kid string) (oidc.Key, error) {
	if kid != s.key.ID {
		return oidc.Key{}, oidc.ErrUnknownKey
	}
	return s.key, nil
}
func (s staticKeys) Keys() []oidc.Key { return []oidc.Key{s.key} }

type signer struct {
	key *rsa.PrivateKey
	kid string
}

func newSigner(t *testing.T, kid string) *signer {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return &signer{key: k, kid: kid}
}

func (s *signer) verifier() *token.Verifier {
	return token.NewVerifier("op", LogoutTokenRules(token.Rules{Issuer: testIssuer, Audiences: []string{"client-1"}, ClockSkew: 30 * time.Second, Types: token.IDTokenTypes}),
		staticKeys{oidc.Key{ID: s.kid, Algorithm: "RS256", Public: &s.key.PublicKey}})
}

// logoutClaims are valid logout token claims; tweak them per case.
func logoutClaims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"iss": testIssuer, "aud": "client-1", "iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
		"jti": session.NewID(), "sub": "alice", "sid": "sid-1",
		"events": map[string]any{BackChannelLogoutEvent: map[string]any{}},
	}
}

func (s *signer) sign(t *testing.T, claims jwt.MapClaims) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = s.kid
	tok.Header["typ"] = "logout+jwt"
	raw, err := tok.SignedString(s.key)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func postLogout(h http.Handler, form url.Values) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", "/oauth2/backchannel_logout", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func TestVerifyLogoutToken(t *testing.T) {
	rs := startRedis(t)
	st := newTestStore(t, newClient(t, rs.addr()))
	sg := newSigner(t, "k1")
	bc, err := NewBackChannel(st, BackChannelConfig{Verifier: sg.verifier()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	good := sg.sign(t, logoutClaims())
	lt, err := bc.VerifyLogoutToken(ctx, good, sg.verifier())
	if err != nil || lt.Issuer != testIssuer || lt.SessionID != "sid-1" || lt.Subject != "alice" || lt.ID == "" {
		t.Fatalf("good token: %+v, %v", lt, err)
	}
	if _, err := bc.VerifyLogoutToken(ctx, good, sg.verifier()); err == nil || !strings.Contains(err.Error(), "replayed") {
		t.Errorf("replayed jti: %v", err)
	}
	subOnly := logoutClaims()
	delete(subOnly, "sid")
	if lt, err := bc.VerifyLogoutToken(ctx, sg.sign(t, subOnly), sg.verifier()); err != nil || lt.SessionID != "" || lt.Subject != "alice" {
		t.Errorf("sub-only token: %+v, %v", lt, err)
	}

	other := newSigner(t, "k1")
	cases := map[string]func(c jwt.MapClaims) string{
		"no events":         func(c jwt.MapClaims) string { delete(c, "events"); return "" },
		"events not object": func(c jwt.MapClaims) string { c["events"] = BackChannelLogoutEvent; return "" },
		"wrong event": func(c jwt.MapClaims) string {
			c["events"] = map[string]any{"http://example/other": map[string]any{}}
			return ""
		},
		"event not object":  func(c jwt.MapClaims) string { c["events"] = map[string]any{BackChannelLogoutEvent: true}; return "" },
		"nonce":             func(c jwt.MapClaims) string { c["nonce"] = "n-1"; return "" },
		"no sid, no sub":    func(c jwt.MapClaims) string { delete(c, "sid"); delete(c, "sub"); return "" },
		"empty sid":         func(c jwt.MapClaims) string { c["sid"] = ""; delete(c, "sub"); return "" },
		"no jti":            func(c jwt.MapClaims) string { delete(c, "jti"); return "" },
		"no iat":            func(c jwt.MapClaims) string { delete(c, "iat"); return "" },
		"old iat":           func(c jwt.MapClaims) string { c["iat"] = time.Now().Add(-10 * time.Minute).Unix(); return "" },
		"future iat":        func(c jwt.MapClaims) string { c["iat"] = time.Now().Add(5 * time.Minute).Unix(); return "" },
		"expired":           func(c jwt.MapClaims) string { c["exp"] = time.Now().Add(-time.Minute).Unix(); return "" },
		"no exp":            func(c jwt.MapClaims) string { delete(c, "exp"); return "" },
		"wrong aud":         func(c jwt.MapClaims) string { c["aud"] = "someone-else"; return "" },
		"wrong iss":         func(c jwt.MapClaims) string { c["iss"] = "https://evil.example"; return "" },
		"signed by another": func(c jwt.MapClaims) string { return other.sign(t, c) },
		"not a JWT":         func(jwt.MapClaims) string { return "not-a-jwt" },
		"alg none": func(c jwt.MapClaims) string {
			s, _ := jwt.NewWithClaims(jwt.SigningMethodNone, c).SignedString(jwt.UnsafeAllowNoneSignatureType)
			return s
		},
		"empty logout token": func(jwt.MapClaims) string { return "" },
	}
	for name, tweak := range cases {
		c := logoutClaims()
		raw := tweak(c)
		if raw == "" && name != "empty logout token" {
			raw = sg.sign(t, c)
		}
		_, err := bc.VerifyLogoutToken(ctx, raw, sg.verifier())
		var ie *InvalidLogoutTokenError
		if !errors.As(err, &ie) {
			t.Errorf("%s: got %v, want an InvalidLogoutTokenError", name, err)
		} else if strings.Contains(ie.Error(), raw) && raw != "" {
			t.Errorf("%s: error holds the token", name)
		} else {
			t.Logf("%-18s → %s", name, ie.Description)
		}
	}
}

func TestBackChannelEndpoint(t *testing.T) {
	rs := startRedis(t)
	a := newTestStore(t, newClient(t, rs.addr())) // instance receiving the logout
	b := newTestStore(t, newClient(t, rs.addr())) // another instance
	sg := newSigner(t, "k1")
	bc, err := NewBackChannel(a, BackChannelConfig{Verifier: sg.verifier()})
	if err != nil {
		t.Fatal(err)
	}
	s1 := save(t, b, testSession(testIssuer, "alice", "sid-1"))
	s1b := save(t, b, testSession(testIssuer, "alice", "sid-1"))
	s2 := save(t, b, testSession(testIssuer, "alice", "sid-2"))
	bob := save(t, b, testSession(testIssuer, "bob", "sid-3"))
	alive := func(r *http.Request) bool { _, err := b.Load(r); return err == nil }

	tok := sg.sign(t, logoutClaims()) // sid-1 (and sub alice)
	rec := postLogout(bc, url.Values{"logout_token": {tok}})
	if rec.Code != http.StatusOK || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("good logout: %d %q %s", rec.Code, rec.Header().Get("Cache-Control"), rec.Body)
	}
	if alive(s1) || alive(s1b) || !alive(s2) || !alive(bob) {
		t.Fatalf("after sid logout: s1 %v s1b %v s2 %v bob %v", alive(s1), alive(s1b), alive(s2), alive(bob))
	}
	// Replay: refused.
	rec = postLogout(bc, url.Values{"logout_token": {tok}})
	assertInvalidRequest(t, "replay", rec)

	// sub only: every session of alice.
	c := logoutClaims()
	delete(c, "sid")
	if rec := postLogout(bc, url.Values{"logout_token": {sg.sign(t, c)}}); rec.Code != http.StatusOK {
		t.Fatalf("sub logout: %d %s", rec.Code, rec.Body)
	}
	if alive(s2) || !alive(bob) {
		t.Fatal("sub logout ended the wrong sessions")
	}

	// Malformed requests.
	withNonce := logoutClaims()
	withNonce["nonce"] = "x"
	assertInvalidRequest(t, "nonce", postLogout(bc, url.Values{"logout_token": {sg.sign(t, withNonce)}}))
	assertInvalidRequest(t, "no token", postLogout(bc, url.Values{}))
	assertInvalidRequest(t, "two tokens", postLogout(bc, url.Values{"logout_token": {sg.sign(t, logoutClaims()), sg.sign(t, logoutClaims())}}))
	r := httptest.NewRequest("POST", "/", strings.NewReader(`{"logout_token":"x"}`))
	r.Header.Set("Content-Type", "application/json")
	rec = httptest.NewRecorder()
	bc.ServeHTTP(rec, r)
	assertInvalidRequest(t, "JSON body", rec)
	rec = httptest.NewRecorder()
	bc.ServeHTTP(rec, httptest.NewRequest("GET", "/?logout_token="+url.QueryEscape(sg.sign(t, logoutClaims())), nil))
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "POST" {
		t.Errorf("GET: %d Allow %q", rec.Code, rec.Header().Get("Allow"))
	}

	// Redis down: 503 with Retry-After, and the token is not consumed.
	c = logoutClaims()
	c["sub"], c["sid"] = "bob", "sid-3"
	bobTok := sg.sign(t, c)
	rs.stop()
	rec = postLogout(bc, url.Values{"logout_token": {bobTok}})
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("Redis down: %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	rs.start()
	waitFor(t, 5*time.Second, "back-channel logout after recovery", func() bool {
		return postLogout(bc, url.Values{"logout_token": {bobTok}}).Code == http.StatusOK
	})
}

func assertInvalidRequest(t *testing.T, name string, rec *httptest.ResponseRecorder) {
	t.Helper()
	var body map[string]string
	if rec.Code != http.StatusBadRequest || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body["error"] != "invalid_request" ||
		rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("%s: %d %s (Cache-Control %q), want 400 invalid_request", name, rec.Code, rec.Body, rec.Header().Get("Cache-Control"))
	}
}

// TestFinding10BackChannelLogoutTokenType: a logout token must be typed
// logout+jwt when it has a typ (OIDC Back-Channel Logout 1.0 §2.4); an
// access token (at+jwt) or an ID-token-typed JWT carrying the same claims
// is refused, and an untyped one (older providers) is taken.
func TestFinding10BackChannelLogoutTokenType(t *testing.T) {
	rs := startRedis(t)
	st := newTestStore(t, newClient(t, rs.addr()))
	sg := newSigner(t, "k1")
	bc, err := NewBackChannel(st, BackChannelConfig{Verifier: sg.verifier()})
	if err != nil {
		t.Fatal(err)
	}
	signTyp := func(typ string) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, logoutClaims())
		tok.Header["kid"] = sg.kid
		if typ == "" {
			delete(tok.Header, "typ")
		} else {
			tok.Header["typ"] = typ
		}
		raw, err := tok.SignedString(sg.key)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	for _, typ := range []string{"logout+jwt", "application/logout+jwt", "Logout+JWT", ""} {
		if rec := postLogout(bc, url.Values{"logout_token": {signTyp(typ)}}); rec.Code != http.StatusOK {
			t.Errorf("typ %q: %d %s, want 200", typ, rec.Code, rec.Body)
		}
	}
	for _, typ := range []string{"JWT", "at+jwt", "secevent+jwt", "dpop+jwt"} {
		rec := postLogout(bc, url.Values{"logout_token": {signTyp(typ)}})
		assertInvalidRequest(t, "typ "+typ, rec)
		if !strings.Contains(rec.Body.String(), "token type") {
			t.Errorf("typ %q: %s, want a token type refusal", typ, rec.Body)
		}
	}
}
