package session

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// alibabaSession builds a session shaped like one from Alibaba Cloud's
// OAuth service (docs/PROTOCOL.md §1.5, §1.7): an RS256 ID token signed with a
// 2048-bit key carrying the profile and aliuid claims, a JWE-sized opaque
// access token and a refresh token.
func alibabaSession(t testing.TB, now time.Time) *Session {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{
		"iss": "https://oauth.aliyun.com", "aud": "4000000000000000001", "sub": "1000000000000001",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "nonce": "x0hK2mPq7cVb9LrT4sWnYz1aE3dGfJ6uI8oQ5",
		"type": "user", "name": "alice", "upn": "alice@example.onaliyun.com",
		"login_name": "example", "aid": "1000000000000000", "uid": "2000000000000002",
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = "k1234"
	idToken, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	// A JWE (RSA-OAEP + A256GCM) of a ~400-byte payload is about 1100 chars.
	opaque := make([]byte, 820)
	_, _ = rand.Read(opaque)
	var decoded map[string]any
	_ = json.Unmarshal([]byte(`{"iss":"https://oauth.aliyun.com","aud":"4000000000000000001","sub":"1000000000000001","iat":1700000000,"exp":1700003600,"type":"user","name":"alice","upn":"alice@example.onaliyun.com","login_name":"example","aid":"1000000000000000","uid":"2000000000000002"}`), &decoded)
	return &Session{
		ID: NewID(), Provider: "aliyun", Subject: "1000000000000001",
		IDToken: idToken, AccessToken: "eyJraWQiOiJrMTIzNCIsImVuYyI6IkEyNTZHQ00ifQ." + base64.RawURLEncoding.EncodeToString(opaque),
		RefreshToken: "Ccx63VVeTn2dxV7ovXXfLtAqLLERAFAKE", TokenType: "Bearer",
		Expiry: now.Add(time.Hour), Scopes: []string{"openid", "aliuid", "profile"},
		Claims: decoded, CreatedAt: now,
	}
}

func newStore(t testing.TB, secure bool) *CookieStore {
	return NewCookieStore(mustSealer(t, secret(7)), CookieOptions{Name: "edgeauth", Secure: secure, Path: "/"}, time.Hour)
}

func TestStoreRoundTripAndTypicalSize(t *testing.T) {
	st := newStore(t, true)
	now := time.Now()
	s := alibabaSession(t, now)
	rec := httptest.NewRecorder()
	if err := st.Save(rec, httptest.NewRequest("GET", "https://x/", nil), s); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, h := range rec.Header().Values("Set-Cookie") {
		total += len(h)
	}
	sealed, _ := ReadChunks(replay(t, rec), "__Host-edgeauth")
	t.Logf("typical Alibaba session: JSON %d bytes, sealed %d bytes, %d cookies, %d bytes of Set-Cookie headers",
		len(mustJSON(t, s)), len(sealed), len(rec.Header().Values("Set-Cookie")), total)
	if n := len(rec.Header().Values("Set-Cookie")); n > 2 {
		t.Errorf("typical session takes %d cookies, want at most 2", n)
	}
	got, err := st.Load(replay(t, rec))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got.ID != s.ID || got.IDToken != s.IDToken || got.AccessToken != s.AccessToken ||
		got.RefreshToken != s.RefreshToken || got.Subject != s.Subject || strings.Join(got.Scopes, " ") != "openid aliuid profile" ||
		got.Expiry.Unix() != s.Expiry.Unix() {
		t.Fatalf("loaded session differs from the saved one (subject %q, scopes %v)", got.Subject, got.Scopes)
	}
	if d := got.NotAfter.Sub(now); d < time.Hour-time.Second || d > time.Hour+2*time.Second {
		t.Fatalf("NotAfter is %v after login, want the 1h lifetime", d)
	}
	if _, ok := got.Claims["iat"].(json.Number); !ok {
		t.Errorf("claim numbers must stay json.Number, got %T", got.Claims["iat"])
	}
	id := got.Identity()
	if id.Issuer != "https://oauth.aliyun.com" || id.Subject != s.Subject || id.Token != s.IDToken || !id.HasScopes([]string{"aliuid"}) {
		t.Errorf("Identity() = %+v", id)
	}
}

func mustJSON(t testing.TB, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStoreLoadNoSession(t *testing.T) {
	st := newStore(t, false)
	now := time.Now()
	saved := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		if err := st.Save(rec, httptest.NewRequest("GET", "/", nil), &Session{ID: NewID(), Subject: "u"}); err != nil {
			t.Fatal(err)
		}
		return rec
	}
	good := replay(t, saved())
	value := good.Cookies()[0].Value

	withCookie := func(name, v string) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(&http.Cookie{Name: name, Value: v})
		return r
	}
	other := NewCookieStore(mustSealer(t, secret(8)), CookieOptions{Name: "edgeauth"}, time.Hour)
	orec := httptest.NewRecorder()
	_ = other.Save(orec, httptest.NewRequest("GET", "/", nil), &Session{ID: NewID()})

	// Same sealer, but sealed for another cookie name (AAD mismatch).
	moved := NewCookieStore(st.sealer, CookieOptions{Name: "other"}, time.Hour)
	mrec := httptest.NewRecorder()
	_ = moved.Save(mrec, httptest.NewRequest("GET", "/", nil), &Session{ID: NewID()})

	cases := map[string]*http.Request{
		"absent":    httptest.NewRequest("GET", "/", nil),
		"tampered":  withCookie("edgeauth", value[:len(value)-2]+"AA"),
		"truncated": withCookie("edgeauth", value[:len(value)/2]),
		"garbage":   withCookie("edgeauth", "1.not-a-sealed-value"),
		"foreign":   withCookie("edgeauth", orec.Result().Cookies()[0].Value),
		"moved":     withCookie("edgeauth", mrec.Result().Cookies()[0].Value),
	}
	for name, r := range cases {
		s, err := st.Load(r)
		if s != nil || !errors.Is(err, ErrNoSession) {
			t.Errorf("%s: got (%v, %v), want ErrNoSession", name, s, err)
		}
	}
	if s, err := st.Load(good); err != nil || s == nil {
		t.Fatalf("good cookie refused: %v", err)
	}
	st.Now = func() time.Time { return now.Add(time.Hour + time.Second) }
	if _, err := st.Load(good); !errors.Is(err, ErrNoSession) {
		t.Errorf("expired session: got %v, want ErrNoSession", err)
	}
}

func TestStoreClearAndNames(t *testing.T) {
	st := newStore(t, true)
	rec := httptest.NewRecorder()
	big := &Session{ID: NewID(), IDToken: strings.Repeat("x", 6000)}
	r := httptest.NewRequest("GET", "https://x/", nil)
	if err := st.Save(rec, r, big); err != nil {
		t.Fatal(err)
	}
	next := replay(t, rec)
	if len(next.Cookies()) < 2 {
		t.Fatal("expected a chunked cookie")
	}
	for _, c := range next.Cookies() {
		if !st.IsSessionCookie(c.Name) {
			t.Errorf("IsSessionCookie(%q) = false", c.Name)
		}
	}
	for _, n := range []string{"edgeauth_login_0a1b2c3d", "session", "__Host-other"} {
		if st.IsSessionCookie(n) {
			t.Errorf("IsSessionCookie(%q) = true", n)
		}
	}
	crec := httptest.NewRecorder()
	if err := st.Clear(crec, next); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Load(replay(t, crec, next.Cookies()...)); !errors.Is(err, ErrNoSession) {
		t.Fatalf("session survived Clear: %v", err)
	}
	if err := st.Save(httptest.NewRecorder(), r, &Session{IDToken: "x"}); err == nil {
		t.Error("session without ID saved")
	}
	if err := st.Save(httptest.NewRecorder(), r, &Session{ID: "a", IDToken: strings.Repeat("x", 50000)}); err == nil || !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversize session: got %v, want ErrTooLarge", err)
	}
}

// TestStoreOpenedCache: a cookie value opened once is answered from the
// cache (the same session, no decryption), but never past the session's
// NotAfter, and a changed value is opened afresh.
func TestStoreOpenedCache(t *testing.T) {
	st := newStore(t, true)
	now := time.Now()
	clock := now
	st.Now = func() time.Time { return clock }
	s := alibabaSession(t, now)
	s.NotAfter = now.Add(30 * time.Second)
	rec := httptest.NewRecorder()
	if err := st.Save(rec, httptest.NewRequest("GET", "https://x/", nil), s); err != nil {
		t.Fatal(err)
	}
	first, err := st.Load(replay(t, rec))
	if err != nil {
		t.Fatal(err)
	}
	again, err := st.Load(replay(t, rec))
	if err != nil || again != first {
		t.Fatalf("the second Load did not come from the cache (%v)", err)
	}
	clock = now.Add(31 * time.Second) // past NotAfter: neither cache nor cookie may answer
	if _, err := st.Load(replay(t, rec)); err != ErrNoSession {
		t.Fatalf("after NotAfter: %v, want ErrNoSession", err)
	}
}
