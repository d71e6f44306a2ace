package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"slices"

	"github.com/edgeauth/caddy-edgeauth/module/oidc"
)

// SupportedAlgorithms are the asymmetric JWS algorithms a proof may use: the
// default of Config.Algorithms. `none` and HMAC are never among them.
var SupportedAlgorithms = []string{
	"ES256", "ES384", "ES512",
	"RS256", "RS384", "RS512",
	"PS256", "PS384", "PS512",
	"EdDSA",
}

// privateMembers are JWK members that only a private (or symmetric) key
// has (RFC 7518 §6.2.2, §6.3.2, §6.4, RFC 8037 §2). A proof that carries
// one has leaked its key, or is no proof of possession at all.
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// publicKey builds the proof key from the jwk header and checks that it
// fits alg.
func publicKey(jwk map[string]any, alg string) (crypto.PublicKey, *Error) {
	for _, name := range privateMembers {
		if _, present := jwk[name]; present {
			return nil, invalid("private_key", "DPoP proof jwk must be a public key (it has private members)")
		}
	}
	var m oidc.JWKMembers
	fields := []struct {
		name string
		dst  *string
		b64  bool
	}{
		{"kty", &m.Kty, false}, {"crv", &m.Crv, false},
		{"n", &m.N, true}, {"e", &m.E, true}, {"x", &m.X, true}, {"y", &m.Y, true},
	}
	for _, f := range fields {
		v, present := jwk[f.name]
		if !present {
			continue
		}
		s, ok := v.(string)
		if !ok {
			return nil, invalid("bad_key", "DPoP proof jwk member "+f.name+" is not a string")
		}
		if f.b64 {
			if _, err := b64.DecodeString(s); err != nil {
				return nil, invalid("bad_key", "DPoP proof jwk member "+f.name+" is not base64url")
			}
		}
		*f.dst = s
	}
	if v, present := jwk["alg"]; present && v != alg {
		return nil, invalid("bad_key", "DPoP proof jwk alg differs from the proof's alg")
	}
	if v, present := jwk["use"]; present && v != "sig" {
		return nil, invalid("bad_key", "DPoP proof jwk is not a signing key")
	}
	key, err := oidc.PublicKeyFromJWK(m)
	if err != nil {
		return nil, invalid("bad_key", "DPoP proof jwk is not a usable public key")
	}
	if !fits(key, alg) {
		return nil, invalid("bad_key", "DPoP proof jwk does not fit the proof's alg")
	}
	return key, nil
}

// fits reports whether key may verify a signature made with alg.
func fits(key crypto.PublicKey, alg string) bool {
	switch pub := key.(type) {
	case *rsa.PublicKey:
		return slices.Contains([]string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}, alg)
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return pub.Curve == elliptic.P256()
		case "ES384":
			return pub.Curve == elliptic.P384()
		case "ES512":
			return pub.Curve == elliptic.P521()
		}
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// Thumbprint is the RFC 7638 SHA-256 thumbprint of a proof key, base64url:
// the value a bound token carries in `cnf.jkt`. It is computed from the
// parsed key, so equivalent encodings of one key have one thumbprint.
func Thumbprint(key crypto.PublicKey) string {
	return oidc.Key{Public: key}.Thumbprint()
}
