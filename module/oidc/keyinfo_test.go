package oidc

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	"go.uber.org/zap"
)

// TestThumbprintRFC7638Example checks Key.Thumbprint against the worked
// example of RFC 7638 §3.1, parsed as a JWKS entry.
func TestThumbprintRFC7638Example(t *testing.T) {
	jwks := `{"keys":[{"kty":"RSA","kid":"2011-04-29","alg":"RS256","e":"AQAB",` +
		`"n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"}]}`
	ks, err := parseJWKS([]byte(jwks), zap.NewNop())
	if err != nil || len(ks.all) != 1 {
		t.Fatalf("parseJWKS: %v, %d keys", err, len(ks.all))
	}
	k := ks.all[0]
	if got, want := k.Thumbprint(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Errorf("Thumbprint = %s, want %s", got, want)
	}
	if got := k.KeyType(); got != "RSA 2048" {
		t.Errorf("KeyType = %s, want RSA 2048", got)
	}
}

// TestKeyTypeAndThumbprintOtherFamilies: EC and Ed25519 keys are described
// and get a 43-character thumbprint; an unknown key type gets none.
func TestKeyTypeAndThumbprintOtherFamilies(t *testing.T) {
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		key  Key
		want string
	}{
		{Key{Public: &p384.PublicKey}, "EC P-384"},
		{Key{Public: edPub}, "OKP Ed25519"},
	} {
		if got := tc.key.KeyType(); got != tc.want {
			t.Errorf("KeyType = %s, want %s", got, tc.want)
		}
		if tp := tc.key.Thumbprint(); len(tp) != 43 {
			t.Errorf("%s: thumbprint %q, want 43 base64url characters", tc.want, tp)
		}
	}
	if tp := (Key{Public: "not a key"}).Thumbprint(); tp != "" {
		t.Errorf("unknown key type: thumbprint %q, want none", tp)
	}
}
