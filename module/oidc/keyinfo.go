package oidc

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math/big"
)

// KeyType describes a key's type and size, e.g. "RSA 2048", "EC P-256" or
// "OKP Ed25519".
func (k Key) KeyType() string {
	switch pub := k.Public.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", pub.N.BitLen())
	case *ecdsa.PublicKey:
		return "EC " + pub.Curve.Params().Name
	case ed25519.PublicKey:
		return "OKP Ed25519"
	}
	return "unknown"
}

// Thumbprint returns the key's RFC 7638 JWK thumbprint: SHA-256 over the
// required members in lexicographic order, without whitespace, base64url
// without padding. "" for an unknown key type.
func (k Key) Thumbprint() string {
	enc := base64.RawURLEncoding.EncodeToString
	var canonical string
	switch pub := k.Public.(type) {
	case *rsa.PublicKey:
		e := big.NewInt(int64(pub.E)).Bytes()
		canonical = fmt.Sprintf(`{"e":%q,"kty":"RSA","n":%q}`, enc(e), enc(pub.N.Bytes()))
	case *ecdsa.PublicKey:
		size := (pub.Curve.Params().BitSize + 7) / 8
		point, err := pub.Bytes() // 0x04 || X || Y, fixed width
		if err != nil || len(point) != 1+2*size {
			return ""
		}
		canonical = fmt.Sprintf(`{"crv":%q,"kty":"EC","x":%q,"y":%q}`, pub.Curve.Params().Name, enc(point[1:1+size]), enc(point[1+size:]))
	case ed25519.PublicKey:
		canonical = fmt.Sprintf(`{"crv":"Ed25519","kty":"OKP","x":%q}`, enc(pub))
	default:
		return ""
	}
	sum := sha256.Sum256([]byte(canonical))
	return enc(sum[:])
}
