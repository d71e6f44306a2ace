package token

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// TestVerifySignatureMatchesGolangJWT: the direct RSA path accepts and
// refuses exactly what golang-jwt's method does, for every RSA algorithm:
// valid signatures, a flipped bit in the signature or the input, a
// signature by another key or for another hash, truncated, empty and
// oversized signatures, and keys of another type.
func TestVerifySignatureMatchesGolangJWT(t *testing.T) {
	k := getKeys()
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	input := "eyJhbGciOiJSUzI1NiIsImtpZCI6InJzYSJ9." + strings.Repeat("eyJzdWIiOiJhIn0", 30)
	methods := []*jwt.SigningMethodRSA{jwt.SigningMethodRS256, jwt.SigningMethodRS384, jwt.SigningMethodRS512}
	for _, m := range methods {
		sig, err := m.Sign(input, k.rsa)
		if err != nil {
			t.Fatal(err)
		}
		byOther, _ := m.Sign(input, other)
		flipped := append([]byte(nil), sig...)
		flipped[len(flipped)/2] ^= 0x10
		cases := []struct {
			name  string
			input string
			sig   []byte
			key   crypto.PublicKey
			ok    bool
		}{
			{"valid", input, sig, &k.rsa.PublicKey, true},
			{"flipped signature bit", input, flipped, &k.rsa.PublicKey, false},
			{"other input", input + "A", sig, &k.rsa.PublicKey, false},
			{"empty input", "", sig, &k.rsa.PublicKey, false},
			{"other key's signature", input, byOther, &k.rsa.PublicKey, false},
			{"verified with the other key", input, sig, &other.PublicKey, false},
			{"truncated", input, sig[:len(sig)-1], &k.rsa.PublicKey, false},
			{"empty signature", input, nil, &k.rsa.PublicKey, false},
			{"oversized", input, append(append([]byte(nil), sig...), 0), &k.rsa.PublicKey, false},
			{"ECDSA key", input, sig, &k.p256.PublicKey, false},
			{"Ed25519 key", input, sig, k.ed.Public(), false},
			{"RSA key by value", input, sig, k.rsa.PublicKey, false},
			{"nil key", input, sig, nil, false},
		}
		for _, other := range methods {
			if other != m {
				s, _ := other.Sign(input, k.rsa)
				cases = append(cases, struct {
					name  string
					input string
					sig   []byte
					key   crypto.PublicKey
					ok    bool
				}{"signed with " + other.Alg(), input, s, &k.rsa.PublicKey, false})
			}
		}
		for _, c := range cases {
			got := verifySignature(m, c.input, c.sig, c.key)
			want := m.Verify(c.input, c.sig, c.key)
			if (got == nil) != c.ok || (want == nil) != c.ok {
				t.Errorf("%s %s: verifySignature %v, golang-jwt %v, want ok=%v", m.Alg(), c.name, got, want, c.ok)
			}
		}
	}
	// Other methods go through golang-jwt.
	es, _ := jwt.SigningMethodES256.Sign(input, k.p256)
	if err := verifySignature(jwt.SigningMethodES256, input, es, &k.p256.PublicKey); err != nil {
		t.Errorf("ES256 through golang-jwt: %v", err)
	}
	if err := verifySignature(jwt.SigningMethodES256, input+"A", es, &k.p256.PublicKey); err == nil {
		t.Error("ES256 over another input accepted")
	}
	ps, _ := jwt.SigningMethodPS256.Sign(input, k.rsa)
	if err := verifySignature(jwt.SigningMethodPS256, input, ps, &k.rsa.PublicKey); err != nil {
		t.Errorf("PS256 through golang-jwt: %v", err)
	}
	if err := verifySignature(jwt.SigningMethodRS256, input, ps, &k.rsa.PublicKey); err == nil {
		t.Error("a PS256 signature passed as RS256")
	}
}

// BenchmarkSignatureCheck: one RS256 check through golang-jwt and through
// verifySignature (the new-token path).
func BenchmarkSignatureCheck(b *testing.B) {
	k := getKeys()
	input := "eyJhbGciOiJSUzI1NiIsImtpZCI6InJzYSJ9." + strings.Repeat("eyJzdWIiOiJhIn0", 40)
	sig, err := jwt.SigningMethodRS256.Sign(input, k.rsa)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		fn   func() error
	}{
		{"golang-jwt", func() error { return jwt.SigningMethodRS256.Verify(input, sig, &k.rsa.PublicKey) }},
		{"direct", func() error { return verifySignature(jwt.SigningMethodRS256, input, sig, &k.rsa.PublicKey) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			defer cpuPerOp(b)()
			for b.Loop() {
				if err := bc.fn(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
