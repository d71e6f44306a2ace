package token

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"unsafe"

	"github.com/golang-jwt/jwt/v5"
)

// verifySignature checks sig over the signing input with key by method.
// RS256, RS384 and RS512 with an RSA key call crypto/rsa.VerifyPKCS1v15 on
// the hash of the input's bytes, as golang-jwt's RSA method does, without
// its copy of the input, its hasher and its digest slice (three
// allocations and about 0.8 KB per new token; BenchmarkSignatureCheck).
// Every other method and key goes through golang-jwt unchanged.
func verifySignature(method jwt.SigningMethod, input string, sig []byte, key crypto.PublicKey) error {
	m, ok := method.(*jwt.SigningMethodRSA)
	if !ok {
		return method.Verify(input, sig, key)
	}
	pub, ok := key.(*rsa.PublicKey)
	if !ok {
		return method.Verify(input, sig, key) // golang-jwt's key-type error
	}
	// sha256 and sha512 only read the input: it is hashed in place.
	in := unsafe.Slice(unsafe.StringData(input), len(input))
	switch m.Hash {
	case crypto.SHA256:
		sum := sha256.Sum256(in)
		return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig)
	case crypto.SHA384:
		sum := sha512.Sum384(in)
		return rsa.VerifyPKCS1v15(pub, crypto.SHA384, sum[:], sig)
	case crypto.SHA512:
		sum := sha512.Sum512(in)
		return rsa.VerifyPKCS1v15(pub, crypto.SHA512, sum[:], sig)
	}
	return method.Verify(input, sig, key)
}
