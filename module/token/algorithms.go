package token

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/edgeauth/caddy-edgeauth/module/oidc"
)

// SupportedAlgorithms are the JWS algorithms a Verifier can allow.
var SupportedAlgorithms = []string{
	"RS256", "RS384", "RS512",
	"PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512",
	"EdDSA",
}

// DefaultAlgorithm is allowed when Rules.Algorithms is empty.
const DefaultAlgorithm = "RS256"

var signingMethods = map[string]jwt.SigningMethod{
	"RS256": jwt.SigningMethodRS256,
	"RS384": jwt.SigningMethodRS384,
	"RS512": jwt.SigningMethodRS512,
	"PS256": jwt.SigningMethodPS256,
	"PS384": jwt.SigningMethodPS384,
	"PS512": jwt.SigningMethodPS512,
	"ES256": jwt.SigningMethodES256,
	"ES384": jwt.SigningMethodES384,
	"ES512": jwt.SigningMethodES512,
	"EdDSA": jwt.SigningMethodEdDSA,
}

// SigningMethod is golang-jwt's method for a supported algorithm name
// (exact case); ok is false for every other name, `none` and HMAC included.
func SigningMethod(alg string) (m jwt.SigningMethod, ok bool) {
	m, ok = signingMethods[alg]
	return m, ok
}

// ValidateAlgorithms checks an algorithm allow-list for the configuration:
// `none`, HMAC (HS*) and unknown names are refused.
func ValidateAlgorithms(algs []string) error {
	for _, a := range algs {
		switch {
		case strings.EqualFold(a, "none"):
			return fmt.Errorf("algorithms: %q is refused (unsigned tokens); list asymmetric algorithms such as RS256 or ES256", a)
		case strings.HasPrefix(strings.ToUpper(a), "HS"):
			return fmt.Errorf("algorithms: %q is refused (HMAC with a public key is forgeable); list asymmetric algorithms such as RS256 or ES256", a)
		}
		if _, ok := signingMethods[a]; !ok {
			return fmt.Errorf("algorithms: %q is not supported; use one of %s (names are case-sensitive)", a, strings.Join(SupportedAlgorithms, " "))
		}
	}
	return nil
}

// keyFits reports whether key may verify a signature made with alg: the
// key type must match the algorithm family (and curve), and a JWK `alg`,
// when present, must equal alg.
func keyFits(k oidc.Key, alg string) bool {
	if k.Algorithm != "" && k.Algorithm != alg {
		return false
	}
	switch pub := k.Public.(type) {
	case *rsa.PublicKey:
		return alg[0] == 'R' || alg[0] == 'P'
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return pub.Curve == elliptic.P256()
		case "ES384":
			return pub.Curve == elliptic.P384()
		case "ES512":
			return pub.Curve == elliptic.P521()
		}
		return false
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// safeName returns s when it is a short token of letters, digits, '+',
// '-' or '_', for quoting in error descriptions; otherwise "".
func safeName(s string) string {
	if len(s) == 0 || len(s) > 16 {
		return ""
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '_') {
			return ""
		}
	}
	return s
}
