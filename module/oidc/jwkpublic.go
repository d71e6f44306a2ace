package oidc

import "crypto"

// JWKMembers are the public members of a JSON Web Key that PublicKeyFromJWK
// reads (RFC 7517, 7518 §6, RFC 8037).
type JWKMembers struct {
	Kty, Crv, N, E, X, Y string
}

// PublicKeyFromJWK builds the public key a JWK describes with the rules
// applied to a provider's JWKS: RSA of at least MinRSABits with a sane
// exponent, EC on P-256, P-384 or P-521 with the point on the curve, or
// OKP Ed25519. It returns *rsa.PublicKey, *ecdsa.PublicKey or
// ed25519.PublicKey.
func PublicKeyFromJWK(m JWKMembers) (crypto.PublicKey, error) {
	j := jsonWebKey{Kty: m.Kty, Crv: m.Crv, N: m.N, E: m.E, X: m.X, Y: m.Y}
	return j.publicKey()
}
