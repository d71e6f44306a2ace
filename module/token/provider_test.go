package token

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/edgeauth/caddy-edgeauth/module/oidc"
)

// TestWithRealProvider verifies tokens against an oidc.Provider that loads
// its keys from a loopback TLS server.
func TestWithRealProvider(t *testing.T) {
	k := getKeys()
	var jwksReady atomic.Bool
	var srv *httptest.Server
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			json.NewEncoder(w).Encode(map[string]string{"issuer": srv.URL, "jwks_uri": srv.URL + "/jwks"})
		case "/jwks":
			if !jwksReady.Load() {
				http.Error(w, "not yet", http.StatusServiceUnavailable)
				return
			}
			b64 := base64.RawURLEncoding.EncodeToString
			json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
				"kty": "RSA", "kid": "rsa", "use": "sig", "alg": "RS256",
				"n": b64(k.rsa.N.Bytes()), "e": b64(big.NewInt(int64(k.rsa.E)).Bytes()),
			}}})
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	caPath := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(caPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)

	p, err := oidc.NewProvider(oidc.Config{Issuer: srv.URL, TLSCA: caPath}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Destruct()
	rules := testRules()
	rules.Issuer = p.Issuer()
	v := NewVerifier("local", rules, p)
	c := baseClaims()
	c["iss"] = srv.URL
	raw := signRSA(t, c)

	_, err = v.Verify(context.Background(), raw)
	wantErr(t, err, Unavailable, "signing keys not loaded yet")

	jwksReady.Store(true)
	if err := p.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	id, err := v.Verify(context.Background(), raw)
	if err != nil || id.Subject != "user-1" {
		t.Fatalf("Verify = %+v, %v", id, err)
	}
	_, err = v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, k.rsa, "rotated-away", c, nil))
	wantErr(t, err, Invalid, "unknown signing key")
}
