package oidc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"testing"

	"go.uber.org/zap"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

func TestParseJWKS(t *testing.T) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)

	enc := jwk("enc", &rk.PublicKey)
	enc["use"] = "enc"
	offCurve := jwk("offcurve", &p256.PublicKey)
	offCurve["y"] = offCurve["x"]
	shortEC := jwk("short", &p384.PublicKey)
	shortEC["crv"] = "P-256"
	keys := []map[string]string{
		jwk("rsa", &rk.PublicKey),
		jwk("p256", &p256.PublicKey),
		jwk("p384", &p384.PublicKey),
		jwk("p521", &p521.PublicKey),
		jwk("ed", edPub),
		jwk("weak", &weak.PublicKey),
		enc,
		offCurve,
		shortEC,
		{"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
		{"kty": "OKP", "kid": "x25519", "crv": "X25519", "x": b64u(make([]byte, 32))},
		{"kty": "RSA", "kid": "bad-n", "n": "!!!", "e": "AQAB"},
		{"kty": "RSA", "kid": "rsa", "n": "dup", "e": "AQAB"},
		{"kty": "RSA", "kid": "even-e", "n": jwk("", &rk.PublicKey)["n"], "e": b64u([]byte{2})},
	}
	body, _ := json.Marshal(map[string]any{"keys": append([]any{"not an object"}, anySlice(keys)...)})
	ks, err := parseJWKS(body, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"rsa", "p256", "p384", "p521", "ed"}
	if len(ks.all) != len(want) {
		var got []string
		for _, k := range ks.all {
			got = append(got, k.ID)
		}
		t.Fatalf("parsed keys %v, want %v", got, want)
	}
	for i, id := range want {
		if ks.all[i].ID != id || ks.byID[id].Public == nil {
			t.Errorf("key %d = %q, want %q", i, ks.all[i].ID, id)
		}
	}
	if pub := ks.byID["rsa"].Public.(*rsa.PublicKey); !pub.Equal(&rk.PublicKey) || ks.byID["rsa"].Algorithm != "RS256" {
		t.Error("RSA key does not round-trip")
	}
	if pub := ks.byID["p521"].Public.(*ecdsa.PublicKey); !pub.Equal(&p521.PublicKey) {
		t.Error("P-521 key does not round-trip")
	}
	if pub := ks.byID["ed"].Public.(ed25519.PublicKey); !pub.Equal(edPub) {
		t.Error("Ed25519 key does not round-trip")
	}

	if _, err := parseJWKS([]byte(`{"keys": 5}`), zap.NewNop()); err == nil {
		t.Error("malformed JWKS accepted")
	}
}

// jwk is pub as the test provider publishes it, with kid; RSA keys also
// state use "sig" and alg RS256.
func jwk(kid string, pub crypto.PublicKey) map[string]string {
	m := demoidp.PublicJWK(pub)
	m["kid"] = kid
	if m["kty"] == "RSA" {
		m["use"], m["alg"] = "sig", "RS256"
	}
	return m
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func anySlice(ms []map[string]string) []any {
	out := make([]any, len(ms))
	for i, m := range ms {
		out[i] = m
	}
	return out
}
