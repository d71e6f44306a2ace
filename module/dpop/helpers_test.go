package dpop

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// testClock is a fixed clock for checkers under test.
var testNow = time.Unix(1_800_000_000, 0)

// ecKey makes a P-256 key.
func ecKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// ecJWK is the public JWK of k as a map.
func ecJWK(k *ecdsa.PrivateKey) map[string]any {
	pt, _ := k.PublicKey.Bytes()
	enc := base64.RawURLEncoding.EncodeToString
	return map[string]any{"kty": "EC", "crv": "P-256", "x": enc(pt[1:33]), "y": enc(pt[33:])}
}

// sign makes a compact JWS from header and claims maps, signed with key by
// method (signature bytes from golang-jwt; header and payload as given, so
// tests can write any member).
func sign(t testing.TB, method jwt.SigningMethod, key crypto.PrivateKey, header, claims map[string]any) string {
	t.Helper()
	hb, _ := json.Marshal(header)
	cb, _ := json.Marshal(claims)
	return signRaw(t, method, key, hb, cb)
}

func signRaw(t testing.TB, method jwt.SigningMethod, key crypto.PrivateKey, hb, cb []byte) string {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	input := enc(hb) + "." + enc(cb)
	sig, err := method.Sign(input, key)
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + enc(sig)
}

// proofParts are the header and claims of a valid ES256 proof for req.
func proofParts(k *ecdsa.PrivateKey, req Request, jti string) (map[string]any, map[string]any) {
	return map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": ecJWK(k)},
		map[string]any{"jti": jti, "htm": req.Method, "htu": req.URL, "iat": testNow.Unix(), "ath": accessTokenHash(req.AccessToken)}
}

// newTestChecker is a checker at testNow with a memory replay store.
func newTestChecker(t testing.TB, mod func(*Config)) *Checker {
	t.Helper()
	cfg := Config{Replay: NewMemoryReplay(0), ClockSkew: 5 * time.Second, Now: func() time.Time { return testNow }}
	if mod != nil {
		mod(&cfg)
	}
	c, err := NewChecker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var bg = context.Background()

// accessTokenHash is a proof's expected ath: base64url(SHA-256(token)),
// written out here as RFC 9449 §4.2 says, independently of the checker's
// comparison against the cached hash.
func accessTokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
