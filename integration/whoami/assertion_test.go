package whoami

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/edgeauth/caddy-edgeauth/assertion"
)

// signingGateway publishes one ES256 key the way the edgeauth gateway does
// (discovery and JWKS on loopback) and signs assertions with it.
type signingGateway struct {
	srv *httptest.Server
	key *ecdsa.PrivateKey
}

func newSigningGateway(t *testing.T) *signingGateway {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	g := &signingGateway{key: key}
	b64 := base64.RawURLEncoding.EncodeToString
	pt, _ := key.PublicKey.Bytes()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/edgeauth/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": g.srv.URL, "jwks_uri": g.srv.URL + "/.well-known/edgeauth/jwks.json"})
	})
	mux.HandleFunc("GET /.well-known/edgeauth/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig", "alg": "ES256",
			"x": b64(pt[1:33]), "y": b64(pt[33:]),
		}}})
	})
	g.srv = httptest.NewServer(mux)
	t.Cleanup(g.srv.Close)
	return g
}

const whoamiAudience = "http://127.0.0.1:8080"

// sign makes an assertion for sub with the given audience and lifetime.
func (g *signingGateway) sign(t *testing.T, sub, aud string, exp time.Duration) string {
	t.Helper()
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss": g.srv.URL, "aud": aud, "sub": sub, "iat": now.Unix(), "exp": now.Add(exp).Unix(),
		"jti": "j1", "provider": "demo", "scope": "openid profile", "name": "<b>Alice</b>",
	})
	tok.Header["kid"] = "k1"
	s, err := tok.SignedString(g.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestAssertionShown: with a verifier configured, whoami says "assertion
// verified" with the subject for a good assertion, and "assertion not
// verified: <why>" otherwise, in JSON and HTML, without echoing the
// assertion on the page.
func TestAssertionShown(t *testing.T) {
	g := newSigningGateway(t)
	v, err := assertion.NewVerifier(g.srv.URL, whoamiAudience)
	if err != nil {
		t.Fatal(err)
	}
	srv, base, err := StartWith("", Options{Assertion: v})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })

	good := g.sign(t, "2000000000000002", whoamiAudience, 2*time.Minute)
	_, body := do(t, http.MethodGet, base+"/", map[string][]string{"X-Auth-Assertion": {good}})
	var e Echo
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatal(err)
	}
	if e.Assertion == nil || !e.Assertion.Verified || e.Assertion.Status != "assertion verified" ||
		e.Assertion.Subject != "2000000000000002" || e.Assertion.Provider != "demo" || e.Assertion.ExpiresAt.IsZero() {
		t.Fatalf("JSON assertion %+v", e.Assertion)
	}

	html := map[string][]string{"Accept": {"text/html"}, "X-Auth-Assertion": {good}}
	_, page := do(t, http.MethodGet, base+"/", html)
	if !strings.Contains(page, `<p id="assertion" class="verified">assertion verified: subject <code id="assertion-subject">2000000000000002</code>`) {
		t.Errorf("page lacks the verified line:\n%s", page)
	}
	if strings.Contains(page, good[:40]) || strings.Contains(page, good[len(good)-20:len(good)-4]) {
		t.Error("the page shows the assertion")
	}

	for _, c := range []struct {
		name   string
		header map[string][]string
		why    string
	}{
		{"none", nil, "assertion not verified: no assertion"},
		{"other audience", map[string][]string{"X-Auth-Assertion": {g.sign(t, "2000000000000002", "https://other.example", time.Minute)}}, "assertion not verified: wrong audience"},
		{"expired", map[string][]string{"X-Auth-Assertion": {g.sign(t, "2000000000000002", whoamiAudience, -time.Minute)}}, "assertion not verified: assertion expired"},
		{"forged", map[string][]string{"X-Auth-Assertion": {good[:len(good)-6] + "AAAAAA"}}, "assertion not verified: bad signature"},
		{"spoofed text", map[string][]string{"X-Auth-Assertion": {"assertion verified"}}, "assertion not verified: malformed assertion"},
	} {
		_, body := do(t, http.MethodGet, base+"/", c.header)
		var e Echo
		if err := json.Unmarshal([]byte(body), &e); err != nil {
			t.Fatal(err)
		}
		if e.Assertion == nil || e.Assertion.Verified || !strings.HasPrefix(e.Assertion.Status, c.why) || e.Assertion.Subject != "" {
			t.Errorf("%s: JSON assertion %+v, want %q", c.name, e.Assertion, c.why)
		}
		h := map[string][]string{"Accept": {"text/html"}}
		for k, vs := range c.header {
			h[k] = vs
		}
		_, page := do(t, http.MethodGet, base+"/", h)
		if !strings.Contains(page, `<p id="assertion" class="unverified">`+c.why) || strings.Contains(page, "assertion-subject") {
			t.Errorf("%s: page lacks %q or shows a subject", c.name, c.why)
		}
	}
}

// TestAssertionOffByDefault: without a verifier, neither JSON nor HTML
// says anything about an assertion, and a renamed header is read and
// masked when configured.
func TestAssertionOffByDefault(t *testing.T) {
	base := start(t)
	_, body := do(t, http.MethodGet, base+"/", map[string][]string{"X-Auth-Assertion": {"x.y.z"}})
	if strings.Contains(body, `"assertion"`) {
		t.Errorf("JSON mentions the assertion without a verifier: %s", body)
	}
	_, page := do(t, http.MethodGet, base+"/", map[string][]string{"Accept": {"text/html"}})
	if strings.Contains(page, `id="assertion"`) {
		t.Error("page mentions the assertion without a verifier")
	}

	g := newSigningGateway(t)
	v, err := assertion.NewVerifier(g.srv.URL, whoamiAudience)
	if err != nil {
		t.Fatal(err)
	}
	srv, base2, err := StartWith("", Options{Assertion: v, AssertionHeader: "x-gw-identity"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	good := g.sign(t, "2000000000000002", whoamiAudience, time.Minute)
	_, page = do(t, http.MethodGet, base2+"/", map[string][]string{"Accept": {"text/html"}, "X-Gw-Identity": {good}})
	if !strings.Contains(page, "assertion verified") || strings.Contains(page, good[:40]) {
		t.Errorf("renamed header: verified line missing or assertion shown")
	}
}
