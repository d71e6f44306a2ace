package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/session"
)

// withCookies returns a request carrying the cookies rec set (deleted ones
// dropped), as a browser would send them next.
func withCookies(rec *httptest.ResponseRecorder) *http.Request {
	r := httptest.NewRequest("GET", "http://app.example.com/", nil)
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge >= 0 {
			r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
	}
	return r
}

func testSession(iss, sub, sid string) *session.Session {
	claims := map[string]any{"iss": iss, "sub": sub, "aud": "client-1", "name": "Alice Example", "iat": json.Number("1700000000")}
	if sid != "" {
		claims["sid"] = sid
	}
	return &session.Session{
		ID: session.NewID(), Provider: "op", Subject: sub,
		IDToken:      "eyJhbGciOiJSUzI1NiJ9.ID-TOKEN-SECRET-" + session.NewID(),
		AccessToken:  "ACCESS-TOKEN-SECRET-" + session.NewID(),
		RefreshToken: "REFRESH-TOKEN-SECRET-" + session.NewID(),
		TokenType:    "Bearer", Expiry: time.Now().Add(time.Hour), Scopes: []string{"openid", "profile"},
		Claims: claims, CreatedAt: time.Now(),
	}
}

func save(t *testing.T, st *Store, s *session.Session) *http.Request {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := st.Save(rec, httptest.NewRequest("GET", "http://app.example.com/", nil), s); err != nil {
		t.Fatalf("Save: %v", err)
	}
	return withCookies(rec)
}

func TestStoreRoundTripAndSmallCookie(t *testing.T) {
	rs := startRedis(t)
	st := newTestStore(t, newClient(t, rs.addr()))
	s := testSession("https://op.example", "alice", "sid-1")
	rec := httptest.NewRecorder()
	if err := st.Save(rec, httptest.NewRequest("GET", "http://app.example.com/", nil), s); err != nil {
		t.Fatal(err)
	}
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 || len(cookies[0].Value) > 200 || !cookies[0].HttpOnly {
		t.Fatalf("want one small HttpOnly cookie holding the sealed ID, got %d cookies (first %d bytes)", len(cookies), len(cookies[0].Value))
	}
	if strings.Contains(cookies[0].Value, s.ID) || strings.Contains(cookies[0].Value, "TOKEN") {
		t.Fatal("cookie holds the raw session ID or a token")
	}
	if d := time.Duration(cookies[0].MaxAge) * time.Second; d < time.Hour-2*time.Second || d > time.Hour {
		t.Errorf("cookie Max-Age %v, want the 1h lifetime", d)
	}
	got, err := st.Load(withCookies(rec))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got.ID != s.ID || got.IDToken != s.IDToken || got.AccessToken != s.AccessToken || got.RefreshToken != s.RefreshToken ||
		got.Subject != "alice" || got.Claims["name"] != "Alice Example" || strings.Join(got.Scopes, " ") != "openid profile" ||
		got.Expiry.Unix() != s.Expiry.Unix() || got.NotAfter.Unix() != s.NotAfter.Unix() {
		t.Fatalf("loaded session differs: %+v", got.Identity())
	}
	if _, ok := got.Claims["iat"].(json.Number); !ok {
		t.Errorf("claim numbers must stay json.Number, got %T", got.Claims["iat"])
	}
	if !st.IsSessionCookie(cookies[0].Name) || st.IsSessionCookie("other") {
		t.Error("IsSessionCookie misjudges names")
	}
	// No cookie, a garbage cookie, a cookie-store cookie: no session.
	cs := session.NewCookieStore(testSealer(t), session.CookieOptions{Name: "edgeauth", Path: "/"}, time.Hour)
	crec := httptest.NewRecorder()
	if err := cs.Save(crec, httptest.NewRequest("GET", "/", nil), testSession("https://op.example", "mallory", "")); err != nil {
		t.Fatal(err)
	}
	garbage := httptest.NewRequest("GET", "/", nil)
	garbage.AddCookie(&http.Cookie{Name: "edgeauth", Value: "1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})
	for name, r := range map[string]*http.Request{
		"absent": httptest.NewRequest("GET", "/", nil), "garbage": garbage, "whole-session cookie": withCookies(crec),
	} {
		if s, err := st.Load(r); s != nil || !errors.Is(err, session.ErrNoSession) {
			t.Errorf("%s: got (%v, %v), want ErrNoSession", name, s, err)
		}
	}
	if err := st.Save(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), &session.Session{}); err == nil {
		t.Error("session without ID saved")
	}
}

// allValues returns every key and its raw value (strings and set members).
func allValues(t *testing.T, c *Client) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	keys, err := c.rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		switch typ := c.rdb.Type(ctx, k).Val(); typ {
		case "string":
			out[k] = c.rdb.Get(ctx, k).Val()
		case "set":
			out[k] = strings.Join(c.rdb.SMembers(ctx, k).Val(), ",")
		default:
			t.Fatalf("unexpected key type %s for %s", typ, k)
		}
	}
	return out
}

func TestStoreRedisHoldsOnlySealedData(t *testing.T) {
	rs := startRedis(t)
	c := newClient(t, rs.addr())
	st := newTestStore(t, c)
	s := testSession("https://op.example", "alice@example.com", "sid-secret-1")
	r := save(t, st, s)
	values := allValues(t, c)
	if len(values) != 3 {
		t.Fatalf("want the session and two index keys, got %d keys: %v", len(values), keys(values))
	}
	for k, v := range values {
		if !strings.HasPrefix(k, "test:") {
			t.Errorf("key %q lacks the configured prefix", k)
		}
		for _, secret := range []string{s.ID, s.IDToken, s.AccessToken, s.RefreshToken, "TOKEN-SECRET", "alice", "Alice Example", "sid-secret-1"} {
			if strings.Contains(k, secret) || strings.Contains(v, secret) {
				t.Errorf("Redis key %q or its value holds %q in clear", k, secret)
			}
		}
	}
	// A value moved to another session's key does not open (AAD binds it).
	other := testSession("https://op.example", "bob", "")
	r2 := save(t, st, other)
	ctx := context.Background()
	if err := c.rdb.Set(ctx, st.sessionKey(other.ID), values[st.sessionKey(s.ID)], time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Load(r2); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("a value moved between keys was accepted: %v", err)
	}
	if _, err := st.Load(r); err != nil {
		t.Errorf("original session broken: %v", err)
	}
	// A Store with another secret reads nothing.
	stranger, err := NewStore(c, StoreConfig{Sealer: mustSealer(t, "another-secret-another-secret-another-secret")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stranger.Load(r); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("store with another secret: %v, want ErrNoSession", err)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func mustSealer(t *testing.T, secret string) *session.Sealer {
	s, err := session.NewSealer([][]byte{[]byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStoreTTL(t *testing.T) {
	rs := startRedis(t)
	c := newClient(t, rs.addr())
	st := newTestStore(t, c) // lifetime 1h
	ctx := context.Background()

	s := testSession("https://op.example", "alice", "sid-1")
	save(t, st, s)
	ttl := c.rdb.PTTL(ctx, st.sessionKey(s.ID)).Val()
	if ttl > time.Hour || ttl < time.Hour-5*time.Second {
		t.Errorf("new session TTL %v, want the 1h lifetime", ttl)
	}
	for _, k := range []string{c.key("sid", "https://op.example", "sid-1"), c.key("sub", "https://op.example", "alice")} {
		if it := c.rdb.PTTL(ctx, k).Val(); it < ttl-time.Second || it > time.Hour {
			t.Errorf("index %s TTL %v, want about the session's %v", k, it, ttl)
		}
	}

	// NotAfter sooner than the lifetime bounds the TTL.
	s2 := testSession("https://op.example", "alice", "sid-1")
	s2.NotAfter = time.Now().Add(10 * time.Minute)
	r2 := save(t, st, s2)
	if ttl := c.rdb.PTTL(ctx, st.sessionKey(s2.ID)).Val(); ttl > 10*time.Minute || ttl < 10*time.Minute-5*time.Second {
		t.Errorf("TTL %v, want NotAfter's 10m", ttl)
	}
	// A later save never shortens the index TTL.
	if it := c.rdb.PTTL(ctx, c.key("sub", "https://op.example", "alice")).Val(); it < time.Hour-10*time.Second {
		t.Errorf("index TTL shortened to %v", it)
	}
	// NotAfter later than the lifetime is capped by the lifetime.
	s3 := testSession("https://op.example", "carol", "")
	s3.NotAfter = time.Now().Add(48 * time.Hour)
	save(t, st, s3)
	if ttl := c.rdb.PTTL(ctx, st.sessionKey(s3.ID)).Val(); ttl > time.Hour {
		t.Errorf("TTL %v exceeds the lifetime", ttl)
	}
	// Past NotAfter (by the clock): no session even if the key survived.
	st.now = func() time.Time { return time.Now().Add(11 * time.Minute) }
	if _, err := st.Load(r2); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("session past NotAfter: %v", err)
	}
}

func TestStoreLogoutEndsSessionOnOtherInstances(t *testing.T) {
	rs := startRedis(t)
	a := newTestStore(t, newClient(t, rs.addr()))
	b := newTestStore(t, newClient(t, rs.addr()))
	s := testSession("https://op.example", "alice", "sid-1")
	r := save(t, a, s)
	got, err := b.Load(r)
	if err != nil || got.AccessToken != s.AccessToken {
		t.Fatalf("instance b cannot read a's session: %v", err)
	}
	rec := httptest.NewRecorder()
	if err := a.Clear(rec, r); err != nil {
		t.Fatal(err)
	}
	if c := rec.Result().Cookies(); len(c) != 1 || c[0].MaxAge >= 0 {
		t.Fatalf("Clear did not expire the cookie: %v", c)
	}
	// The browser's old cookie (e.g. a stolen copy) no longer works anywhere.
	for name, st := range map[string]*Store{"a": a, "b": b} {
		if _, err := st.Load(r); !errors.Is(err, session.ErrNoSession) {
			t.Errorf("instance %s after logout: %v, want ErrNoSession", name, err)
		}
	}
}

func TestStoreEndBySidAndSub(t *testing.T) {
	rs := startRedis(t)
	c := newClient(t, rs.addr())
	st := newTestStore(t, c)
	other := newTestStore(t, newClient(t, rs.addr()))
	const iss = "https://op.example"
	a1 := save(t, st, testSession(iss, "alice", "s1"))
	a2 := save(t, st, testSession(iss, "alice", "s1"))
	a3 := save(t, st, testSession(iss, "alice", "s2"))
	a4 := save(t, st, testSession(iss, "alice", "")) // ID token without sid
	bob := save(t, st, testSession(iss, "bob", "s3"))
	foreign := save(t, st, testSession("https://other-op.example", "alice", "s1"))
	alive := func(r *http.Request) bool {
		_, err := other.Load(r)
		if err != nil && !errors.Is(err, session.ErrNoSession) {
			t.Fatal(err)
		}
		return err == nil
	}
	ctx := context.Background()
	n, err := st.End(ctx, iss, "s1", "alice")
	if err != nil || n != 2 {
		t.Fatalf("End(sid s1) = %d, %v; want 2", n, err)
	}
	if alive(a1) || alive(a2) || !alive(a3) || !alive(a4) || !alive(bob) || !alive(foreign) {
		t.Fatalf("after End(sid): a1 %v a2 %v a3 %v a4 %v bob %v foreign %v", alive(a1), alive(a2), alive(a3), alive(a4), alive(bob), alive(foreign))
	}
	n, err = st.End(ctx, iss, "", "alice")
	if err != nil || n != 2 {
		t.Fatalf("End(sub alice) = %d, %v; want 2 (a3, a4)", n, err)
	}
	if alive(a3) || alive(a4) || !alive(bob) || !alive(foreign) {
		t.Fatal("End(sub) ended the wrong sessions")
	}
	if n, err := st.End(ctx, iss, "", "nobody"); err != nil || n != 0 {
		t.Errorf("End(unknown) = %d, %v", n, err)
	}
	if _, err := st.End(ctx, iss, "", ""); err == nil {
		t.Error("End without sid or sub accepted")
	}
}
