// Package oidctest is a minimal OpenID provider for tests of the STS
// emulator and its clients: HTTPS on loopback, a discovery document, a JWKS,
// and helpers that sign ID tokens. It is not the demo IdP (integration/demoidp).
package oidctest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// IdP is a running test OpenID provider.
type IdP struct {
	srv     *httptest.Server
	key     *rsa.PrivateKey
	foreign *rsa.PrivateKey
	kid     string
}

// New starts an IdP on https://127.0.0.1:<port>. Close it when done.
func New() (*IdP, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	foreign, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	p := &IdP{key: key, foreign: foreign, kid: "test-key-1"}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /jwks", p.jwks)
	p.srv = httptest.NewUnstartedServer(mux)
	// Tests that distrust the certificate on purpose would log handshake errors.
	p.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	p.srv.StartTLS()
	return p, nil
}

// Issuer is the issuer URL (also the discovery base).
func (p *IdP) Issuer() string { return p.srv.URL }

// Client is an HTTP client that trusts the IdP's certificate.
func (p *IdP) Client() *http.Client { return p.srv.Client() }

// Thumbprint is the lowercase hex SHA-1 of the certificate the IdP presents
// (its whole chain is that one certificate), as registered with RAM.
func (p *IdP) Thumbprint() string {
	sum := sha1.Sum(p.srv.Certificate().Raw)
	return hex.EncodeToString(sum[:])
}

// Close stops the IdP.
func (p *IdP) Close() { p.srv.Close() }

// Sign signs claims with RS256 and the IdP's key.
func (p *IdP) Sign(claims jwt.MapClaims) string {
	return p.sign(p.key, claims)
}

// SignForeign signs claims with a key the JWKS does not hold, under the same
// kid: the signature cannot verify.
func (p *IdP) SignForeign(claims jwt.MapClaims) string {
	return p.sign(p.foreign, claims)
}

func (p *IdP) sign(key *rsa.PrivateKey, claims jwt.MapClaims) string {
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = p.kid
	s, err := t.SignedString(key)
	if err != nil {
		panic("oidctest: signing failed: " + err.Error())
	}
	return s
}

// Claims returns iss, sub, aud, iat (now) and exp (now+ttl).
func (p *IdP) Claims(sub, aud string, ttl time.Duration) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{"iss": p.Issuer(), "sub": sub, "aud": aud,
		"iat": now.Unix(), "exp": now.Add(ttl).Unix()}
}

// Token is Sign(Claims(sub, aud, ttl)).
func (p *IdP) Token(sub, aud string, ttl time.Duration) string {
	return p.Sign(p.Claims(sub, aud, ttl))
}

func (p *IdP) discovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, map[string]any{
		"issuer":                                p.Issuer(),
		"jwks_uri":                              p.Issuer() + "/jwks",
		"authorization_endpoint":                p.Issuer() + "/authorize",
		"token_endpoint":                        p.Issuer() + "/token",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
	})
}

func (p *IdP) jwks(w http.ResponseWriter, _ *http.Request) {
	pub := p.key.PublicKey
	writeJSON(w, map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "use": "sig", "alg": "RS256", "kid": p.kid,
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
