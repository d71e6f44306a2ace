package token

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/edgeauth/caddy-edgeauth/module/oidc"
)

const (
	testIssuer   = "https://idp.example.com"
	testAudience = "4000000000000000001"
)

var testNow = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

// testKeys holds one private key per family, generated once.
type testKeys struct {
	rsa  *rsa.PrivateKey
	p256 *ecdsa.PrivateKey
	p384 *ecdsa.PrivateKey
	p521 *ecdsa.PrivateKey
	ed   ed25519.PrivateKey
}

var (
	keysOnce sync.Once
	keys     testKeys
)

func getKeys() testKeys {
	keysOnce.Do(func() {
		var err error
		if keys.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		keys.p256, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		keys.p384, _ = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		keys.p521, _ = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
		_, keys.ed, _ = ed25519.GenerateKey(rand.Reader)
	})
	return keys
}

// staticKeys is an in-memory KeySource.
type staticKeys struct {
	byID      map[string]oidc.Key
	all       []oidc.Key
	notLoaded bool
	calls     atomic.Int64
}

func (s *staticKeys) Key(_ context.Context, kid string) (oidc.Key, error) {
	s.calls.Add(1)
	if s.notLoaded {
		return oidc.Key{}, oidc.ErrKeysNotLoaded
	}
	k, ok := s.byID[kid]
	if !ok {
		return oidc.Key{}, oidc.ErrUnknownKey
	}
	return k, nil
}

func (s *staticKeys) Keys() []oidc.Key {
	s.calls.Add(1)
	if s.notLoaded {
		return nil
	}
	return s.all
}

// newKeySource publishes the test keys under kids "rsa", "p256", "p384",
// "p521" and "ed".
func newKeySource() *staticKeys {
	k := getKeys()
	s := &staticKeys{byID: map[string]oidc.Key{}}
	for _, key := range []oidc.Key{
		{ID: "rsa", Public: &k.rsa.PublicKey},
		{ID: "p256", Public: &k.p256.PublicKey},
		{ID: "p384", Public: &k.p384.PublicKey},
		{ID: "p521", Public: &k.p521.PublicKey},
		{ID: "ed", Public: k.ed.Public()},
	} {
		s.byID[key.ID] = key
		s.all = append(s.all, key)
	}
	return s
}

func testRules() Rules {
	return Rules{
		Issuer:     testIssuer,
		Audiences:  []string{testAudience, "other-app"},
		Algorithms: []string{"RS256"},
		ClockSkew:  30 * time.Second,
		Now:        func() time.Time { return testNow },
	}
}

func baseClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss":   testIssuer,
		"aud":   testAudience,
		"sub":   "user-1",
		"exp":   testNow.Add(time.Hour).Unix(),
		"iat":   testNow.Add(-time.Minute).Unix(),
		"nbf":   testNow.Add(-time.Minute).Unix(),
		"scope": "openid profile",
	}
}

// sign signs claims with method and key, setting kid (when not empty) and
// extra header fields.
func sign(t testing.TB, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims, hdr map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	for k, v := range hdr {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("signing: %v", err)
	}
	return s
}

func signRSA(t testing.TB, claims jwt.MapClaims) string {
	return sign(t, jwt.SigningMethodRS256, getKeys().rsa, "rsa", claims, nil)
}

// wantInvalid checks that err is an Invalid *Error with the description.
func wantErr(t *testing.T, err error, kind ErrorKind, desc string) {
	t.Helper()
	e, ok := err.(*Error)
	if !ok {
		t.Fatalf("error = %v (%T), want *Error %q", err, err, desc)
	}
	if e.Kind != kind || e.Description != desc {
		t.Fatalf("error = %v %q, want %v %q", e.Kind, e.Description, kind, desc)
	}
}
