package assertion

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// testKey is one signing key of the test gateway.
type testKey struct {
	kid, alg string
	priv     crypto.Signer
}

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

// newTestKey makes a key for alg (one RSA key is shared by the tests: its
// generation is slow).
func newTestKey(t testing.TB, kid, alg string) testKey {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch alg {
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EdDSA":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case "RS256", "PS256":
		rsaOnce.Do(func() { rsaKey, err = rsa.GenerateKey(rand.Reader, 2048) })
		priv = rsaKey
	default:
		t.Fatalf("no key for %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return testKey{kid: kid, alg: alg, priv: priv}
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwk is the public JWK of k, as the gateway publishes it.
func (k testKey) jwk() map[string]any {
	m := map[string]any{"kid": k.kid, "use": "sig", "alg": k.alg}
	switch pub := k.priv.Public().(type) {
	case *ecdsa.PublicKey:
		b, _ := pub.Bytes()
		m["kty"], m["crv"], m["x"], m["y"] = "EC", "P-256", b64u(b[1:33]), b64u(b[33:])
	case ed25519.PublicKey:
		m["kty"], m["crv"], m["x"] = "OKP", "Ed25519", b64u(pub)
	case *rsa.PublicKey:
		m["kty"], m["n"], m["e"] = "RSA", b64u(pub.N.Bytes()), "AQAB"
	}
	return m
}

// signRaw signs header and payload JSON exactly as given.
func signRaw(t testing.TB, k testKey, header, payload string) string {
	t.Helper()
	in := b64u([]byte(header)) + "." + b64u([]byte(payload))
	sig, err := jwt.GetSigningMethod(k.alg).Sign(in, k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + b64u(sig)
}

// sign signs claims with the header the gateway sends (alg, kid, typ JWT).
func sign(t testing.TB, k testKey, claims map[string]any) string {
	t.Helper()
	h, _ := json.Marshal(map[string]any{"alg": k.alg, "kid": k.kid, "typ": "JWT"})
	p, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return signRaw(t, k, string(h), string(p))
}

// gateway is a loopback server publishing discovery and a JWKS like the
// edgeauth gateway, counting requests.
type gateway struct {
	srv           *httptest.Server
	mu            sync.Mutex
	keys          []testKey
	issuer        string // stated in discovery (default: the server's URL)
	cacheControl  string
	jwksStatus    int // 0: 200
	jwksHits      atomic.Int64
	discoveryHits atomic.Int64
	jwksDelay     time.Duration
	jwksURI       string // the discovery document's jwks_uri; "" for the gateway's own
}

func newGateway(t testing.TB, keys ...testKey) *gateway {
	t.Helper()
	g := &gateway{keys: keys}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/edgeauth/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		g.discoveryHits.Add(1)
		g.mu.Lock()
		iss, jwksURI := g.issuer, g.jwksURI
		g.mu.Unlock()
		if iss == "" {
			iss = g.srv.URL
		}
		if jwksURI == "" {
			jwksURI = "http://" + r.Host + "/.well-known/edgeauth/jwks.json"
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"issuer": iss, "jwks_uri": jwksURI})
	})
	mux.HandleFunc("GET /.well-known/edgeauth/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		g.jwksHits.Add(1)
		g.mu.Lock()
		status, cc, delay := g.jwksStatus, g.cacheControl, g.jwksDelay
		var set []map[string]any
		for _, k := range g.keys {
			set = append(set, k.jwk())
		}
		g.mu.Unlock()
		time.Sleep(delay)
		if status != 0 {
			http.Error(w, "down", status)
			return
		}
		if cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"keys": set})
	})
	g.srv = httptest.NewServer(mux)
	t.Cleanup(g.srv.Close)
	return g
}

func (g *gateway) URL() string { return g.srv.URL }

func (g *gateway) jwksURL() string { return g.srv.URL + "/.well-known/edgeauth/jwks.json" }

func (g *gateway) setKeys(keys ...testKey) {
	g.mu.Lock()
	g.keys = keys
	g.mu.Unlock()
}

func (g *gateway) setStatus(status int) {
	g.mu.Lock()
	g.jwksStatus = status
	g.mu.Unlock()
}

// testAudience is the audience of the tests' assertions.
const testAudience = "https://app.example.com"

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1_800_000_000, 0)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// claimsAt are the claims the gateway sends, issued at now by issuer.
func claimsAt(issuer string, now time.Time) map[string]any {
	return map[string]any{
		"iss":        issuer,
		"aud":        testAudience,
		"sub":        "2000000000000002",
		"iat":        now.Unix(),
		"exp":        now.Add(2 * time.Minute).Unix(),
		"jti":        "a1b2c3",
		"idp":        "https://oauth.aliyun.com",
		"provider":   "aliyun",
		"scope":      "openid /acs/alidns",
		"aid":        "1000000000000000",
		"uid":        "2000000000000002",
		"type":       "user",
		"login_name": "alice",
		"upn":        "alice@example.onaliyun.com",
		"name":       "Alice",
		"email":      "alice@example.com",
	}
}

// newTestVerifier is a discovery-based verifier of g on clk.
func newTestVerifier(t testing.TB, g *gateway, clk *clock, opts ...Option) *Verifier {
	t.Helper()
	v, err := NewVerifier(g.URL(), testAudience, append([]Option{WithClock(clk.now)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
