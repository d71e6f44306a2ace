package oidc

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testCA is a throw-away certificate authority with one leaf for 127.0.0.1.
type testCA struct {
	ca, leaf   *x509.Certificate
	tlsCert    tls.Certificate
	pemPath    string
	caPrint    string
	leafPrint  string
	leafNoRoot tls.Certificate // leaf only, CA not sent
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "edgeauth test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, leafKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(leafDER)
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &testCA{
		ca: ca, leaf: leaf,
		tlsCert:    tls.Certificate{Certificate: [][]byte{leafDER, caDER}, PrivateKey: leafKey},
		leafNoRoot: tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: leafKey},
		pemPath:    path,
		caPrint:    Thumbprint(ca),
		leafPrint:  Thumbprint(leaf),
	}
}

// fakeIdP serves discovery and a JWKS over TLS and counts requests.
type fakeIdP struct {
	srv          *httptest.Server
	url          string // https://127.0.0.1:port, known before the server starts
	mu           sync.Mutex
	keys         []map[string]string
	issuer       string // "" → the server's URL
	cacheControl string
	discoFail    atomic.Bool
	jwksFail     atomic.Bool
	jwksDelay    time.Duration
	jwksHits     atomic.Int64
	discoHits    atomic.Int64
	anyHits      atomic.Int64
}

func (f *fakeIdP) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		f.discoHits.Add(1)
		if f.discoFail.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		f.mu.Lock()
		iss := f.issuer
		f.mu.Unlock()
		if iss == "" {
			iss = f.url
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                 iss,
			"authorization_endpoint": f.url + "/authorize",
			"token_endpoint":         f.url + "/token",
			"jwks_uri":               f.url + "/jwks",
		})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		f.jwksHits.Add(1)
		if f.jwksDelay > 0 {
			time.Sleep(f.jwksDelay)
		}
		if f.jwksFail.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		f.mu.Lock()
		body, _ := json.Marshal(map[string]any{"keys": f.keys})
		cc := f.cacheControl
		f.mu.Unlock()
		if cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.anyHits.Add(1)
		mux.ServeHTTP(w, r)
	})
}

// newFakeIdP returns an unstarted IdP whose listener is already bound.
func newFakeIdP(t *testing.T, ca *testCA, cert tls.Certificate) *fakeIdP {
	t.Helper()
	f := &fakeIdP{}
	f.srv = httptest.NewUnstartedServer(f.handler())
	f.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	f.url = "https://" + f.srv.Listener.Addr().String()
	t.Cleanup(f.srv.Close)
	return f
}

func startFakeIdP(t *testing.T, ca *testCA) *fakeIdP {
	f := newFakeIdP(t, ca, ca.tlsCert)
	f.srv.StartTLS()
	return f
}

func (f *fakeIdP) setKeys(keys ...map[string]string) {
	f.mu.Lock()
	f.keys = keys
	f.mu.Unlock()
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func rsaJWK(kid string, pub *rsa.PublicKey) map[string]string {
	return map[string]string{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
		"n": b64u(pub.N.Bytes()), "e": b64u(big.NewInt(int64(pub.E)).Bytes())}
}

func ecJWK(kid string, pub *ecdsa.PublicKey) map[string]string {
	size := (pub.Curve.Params().BitSize + 7) / 8
	b, _ := pub.Bytes()
	return map[string]string{"kty": "EC", "kid": kid, "crv": pub.Curve.Params().Name,
		"x": b64u(b[1 : 1+size]), "y": b64u(b[1+size:])}
}

func edJWK(kid string, pub ed25519.PublicKey) map[string]string {
	return map[string]string{"kty": "OKP", "kid": kid, "crv": "Ed25519", "x": b64u(pub)}
}

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

// testRSA returns a 2048-bit key shared by the tests (generation is slow).
func testRSA(t *testing.T) *rsa.PrivateKey {
	rsaOnce.Do(func() {
		var err error
		rsaKey, err = rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
	})
	return rsaKey
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newTestProvider builds a provider for f with fast backoff and a fake clock.
func newTestProvider(t *testing.T, cfg Config) (*Provider, *fakeClock) {
	t.Helper()
	p, err := NewProvider(cfg, nil)
	if err != nil {
		t.Fatalf("NewProvider: %v", err)
	}
	clk := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	p.now = clk.now
	p.backoffMin = 20 * time.Millisecond
	p.backoffMax = 100 * time.Millisecond
	t.Cleanup(func() { _ = p.Destruct() })
	return p, clk
}

// waitFor polls cond for up to 5 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
