package assertion

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"testing"
)

// TestVerifyStdlibSignatures: assertions signed with crypto/* directly, not
// through golang-jwt, verify; so the verifier agrees with the JWS encodings
// of RFC 7518 (ECDSA as fixed-width r||s, PKCS #1 v1.5, PSS with a salt as
// long as the hash) and RFC 8037 (Ed25519), not just with its own library.
func TestVerifyStdlibSignatures(t *testing.T) {
	keys := map[string]testKey{}
	var all []testKey
	for _, alg := range DefaultAlgorithms {
		k := newTestKey(t, "std-"+alg, alg)
		keys[alg] = k
		all = append(all, k)
	}
	g := newGateway(t, all...)
	clk := newClock()
	v := newTestVerifier(t, g, clk)
	payload, _ := json.Marshal(claimsAt(g.URL(), clk.now()))
	for alg, k := range keys {
		header := `{"typ":"JWT","alg":"` + alg + `","kid":"` + k.kid + `"}`
		in := b64u([]byte(header)) + "." + b64u(payload)
		digest := sha256.Sum256([]byte(in))
		var sig []byte
		var err error
		switch priv := k.priv.(type) {
		case *ecdsa.PrivateKey:
			r, s, e := ecdsa.Sign(rand.Reader, priv, digest[:])
			err = e
			sig = make([]byte, 64)
			r.FillBytes(sig[:32])
			s.FillBytes(sig[32:])
		case ed25519.PrivateKey:
			sig = ed25519.Sign(priv, []byte(in))
		case *rsa.PrivateKey:
			if alg == "RS256" {
				sig, err = rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA256, digest[:])
			} else {
				sig, err = rsa.SignPSS(rand.Reader, priv, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		id, err := v.Verify(context.Background(), in+"."+b64u(sig))
		if err != nil || id.Subject != "2000000000000002" {
			t.Errorf("%s signed with crypto/*: %v", alg, err)
		}
		// The same bytes with a flipped signature bit fail.
		sig[len(sig)/2] ^= 1
		if _, err := v.Verify(context.Background(), in+"."+b64u(sig)); err == nil {
			t.Errorf("%s: a flipped signature bit verified", alg)
		}
	}
}
