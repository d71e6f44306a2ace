package stsemu

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// tokenInfo is what a verified OIDC token contributes.
type tokenInfo struct {
	iss, sub       string
	aud            []string
	iat, exp       time.Time
	sourceIdentity string
}

func tokenErr(code, format string, args ...any) *APIError {
	return apiErr(http.StatusUnauthorized, "AuthenticationFail.OIDCToken."+code, format, args...)
}

// precheckToken applies the shape rules that need no provider: length, three
// parts, a readable header, and an asymmetric algorithm.
func precheckToken(tok string) *APIError {
	if n := len(tok); n < minTokenLen || n > maxTokenLen {
		return tokenErr("Invalid", "The length of OIDCToken must be %d to %d characters.", minTokenLen, maxTokenLen)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return tokenErr("Invalid", "The OIDCToken is not a JsonWebToken with 3 parts.")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return tokenErr("Invalid", "The header of the OIDCToken is not valid base64url.")
	}
	var hdr map[string]any
	if json.Unmarshal(raw, &hdr) != nil {
		return tokenErr("Invalid", "The header of the OIDCToken is not valid JSON.")
	}
	alg, _ := hdr["alg"].(string)
	if alg == "" || strings.EqualFold(alg, "none") || strings.HasPrefix(strings.ToUpper(alg), "HS") {
		// Real STS reports HS256 as an "unknown" algorithm.
		return tokenErr("Invalid", "The algorithm %q of the OIDCToken is unknown.", alg)
	}
	if _, ok := algorithms[alg]; !ok {
		return tokenErr("Invalid", "The algorithm %q of the OIDCToken is unknown.", alg)
	}
	return nil
}

// algorithms accepted (beyond RS256 this is UNCONFIRMED for the real STS).
var algorithms = map[string]bool{"RS256": true, "RS384": true, "RS512": true,
	"PS256": true, "PS384": true, "PS512": true, "ES256": true, "ES384": true, "ES512": true}

// verifyToken checks the token against the provider. Cheap claim checks come
// first; then discovery and JWKS are fetched (every time: no cache, so key
// rotation is visible at once) and the signature verified.
func (s *Server) verifyToken(ctx context.Context, tok string, p *Provider) (*tokenInfo, *APIError) {
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(tok, claims); err != nil {
		return nil, tokenErr("Invalid", "The OIDCToken cannot be parsed.")
	}
	info := &tokenInfo{}
	info.iss, _ = claims["iss"].(string)
	info.sub, _ = claims["sub"].(string)
	aud, err := claims.GetAudience()
	if err != nil {
		return nil, tokenErr("Invalid", "The aud claim of the OIDCToken is malformed.")
	}
	info.aud = aud
	if info.iss != p.IssuerURL {
		return nil, tokenErr("IssuerNotMatch", "The issuer of the OIDCToken does not match the IssuerUrl of the OIDC provider.")
	}
	if !slices.ContainsFunc(info.aud, func(a string) bool { return slices.Contains(p.ClientIDs, a) }) {
		return nil, tokenErr("AudienceNotMatch", "The audience of the OIDCToken does not match any client ID of the OIDC provider.")
	}
	if info.sub == "" {
		return nil, tokenErr("Invalid", "The OIDCToken has no sub claim.")
	}
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return nil, tokenErr("Invalid", "The OIDCToken has no valid exp claim.")
	}
	iat, err := claims.GetIssuedAt()
	if err != nil || iat == nil {
		return nil, tokenErr("Invalid", "The OIDCToken has no valid iat claim.")
	}
	info.exp, info.iat = exp.Time, iat.Time
	now := s.now()
	if !now.Before(info.exp) {
		return nil, tokenErr("Expired", "This JsonWebToken is expired.")
	}
	if now.Sub(info.iat) > p.issuanceLimit() {
		// Code inferred: docs/PROTOCOL.md names no separate code for the window.
		return nil, tokenErr("Invalid", "The OIDCToken was issued earlier than the IssuanceLimitTime (%d hours) of the OIDC provider allows.", p.IssuanceLimitTime)
	}
	if s.opts.SourceIdentityClaim != "" {
		info.sourceIdentity, _ = claims[s.opts.SourceIdentityClaim].(string)
	}

	keys, e := s.fetchKeys(ctx, p)
	if e != nil {
		return nil, e
	}
	_, err = jwt.Parse(tok, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		var set jwt.VerificationKeySet
		for _, k := range keys {
			if (kid == "" || k.kid == kid) && k.fits(t.Method) {
				set.Keys = append(set.Keys, k.key)
			}
		}
		if len(set.Keys) == 0 {
			return nil, errors.New("no matching key")
		}
		return set, nil
	}, jwt.WithValidMethods(slices.Collect(func(yield func(string) bool) {
		for a := range algorithms {
			if !yield(a) {
				return
			}
		}
	})), jwt.WithoutClaimsValidation())
	if err != nil {
		return nil, tokenErr("InvalidSignature", "The signature of the OIDCToken cannot be verified with the keys of the OIDC provider.")
	}
	return info, nil
}

// jwk is a parsed public key.
type jwk struct {
	kid string
	key crypto.PublicKey
}

func (k jwk) fits(m jwt.SigningMethod) bool {
	switch k.key.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(m.Alg(), "RS") || strings.HasPrefix(m.Alg(), "PS")
	case *ecdsa.PublicKey:
		return strings.HasPrefix(m.Alg(), "ES")
	}
	return false
}

// fetchKeys loads the IdP's discovery document and JWKS over HTTPS and
// checks the JWKS host's certificate chain against the fingerprints.
func (s *Server) fetchKeys(ctx context.Context, p *Provider) ([]jwk, *APIError) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	discURL := strings.TrimSuffix(p.IssuerURL, "/") + "/.well-known/openid-configuration"
	body, _, e := s.get(ctx, discURL)
	if e != nil {
		return nil, e
	}
	var disc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if json.Unmarshal(body, &disc) != nil || disc.JWKSURI == "" {
		return nil, tokenErr("IssuerConfigurationBroken", "The OpenID configuration of the issuer has no jwks_uri.")
	}
	if u, err := url.Parse(disc.JWKSURI); err != nil || u.Scheme != "https" {
		return nil, tokenErr("HttpsUrlInvalid", "The jwks_uri of the issuer is not an https URL.")
	}
	body, state, e := s.get(ctx, disc.JWKSURI)
	if e != nil {
		return nil, e
	}
	if !chainMatches(state, p.Fingerprints) {
		return nil, tokenErr("PublicKeyFingerprintMismatch",
			"No certificate in the chain of the JWKS host matches a fingerprint of the OIDC provider.")
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if json.Unmarshal(body, &set) != nil {
		return nil, tokenErr("IssuerConfigurationBroken", "The JWKS of the issuer is not valid JSON.")
	}
	var keys []jwk
	for _, k := range set.Keys {
		if key, ok := parseJWK(k); ok {
			kid, _ := k["kid"].(string)
			keys = append(keys, jwk{kid: kid, key: key})
		}
	}
	if len(keys) == 0 {
		return nil, tokenErr("IssuerConfigurationBroken", "The JWKS of the issuer has no usable key.")
	}
	return keys, nil
}

// get fetches an https URL and classifies failures as STS does.
func (s *Server) get(ctx context.Context, u string) ([]byte, *tls.ConnectionState, *APIError) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil || req.URL.Scheme != "https" {
		return nil, nil, tokenErr("HttpsUrlInvalid", "The URL %s of the issuer is not a valid https URL.", u)
	}
	resp, err := s.opts.HTTPClient.Do(req)
	if err != nil {
		var (
			ua x509.UnknownAuthorityError
			he x509.HostnameError
			ci x509.CertificateInvalidError
			ve *tls.CertificateVerificationError
		)
		if errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci) || errors.As(err, &ve) {
			return nil, nil, tokenErr("HttpsUrlInvalid", "The certificate chain of %s cannot be validated.", req.URL.Host)
		}
		return nil, nil, tokenErr("IssuerConfigurationBroken", "The OpenID configuration of the issuer cannot be fetched from %s.", req.URL.Host)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, nil, tokenErr("IssuerConfigurationBroken", "The issuer answered HTTP %d at %s.", resp.StatusCode, req.URL.Path)
	}
	return body, resp.TLS, nil
}

// chainMatches reports whether a certificate the server presented has a
// SHA-1 among the fingerprints (compared case-insensitively).
func chainMatches(state *tls.ConnectionState, fingerprints []string) bool {
	if state == nil {
		return false
	}
	for _, c := range state.PeerCertificates {
		if containsFold(fingerprints, Thumbprint(c)) {
			return true
		}
	}
	return false
}

// Thumbprint is the lowercase hex SHA-1 of a certificate, the form RAM
// fingerprints take.
func Thumbprint(c *x509.Certificate) string {
	sum := sha1.Sum(c.Raw)
	return hex.EncodeToString(sum[:])
}

// parseJWK turns an RSA or EC JWK into a public key.
func parseJWK(k map[string]any) (crypto.PublicKey, bool) {
	str := func(name string) []byte {
		v, _ := k[name].(string)
		b, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil {
			return nil
		}
		return b
	}
	switch k["kty"] {
	case "RSA":
		n, e := str("n"), str("e")
		if len(n) == 0 || len(e) == 0 || len(e) > 4 {
			return nil, false
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}, true
	case "EC":
		var curve elliptic.Curve
		switch k["crv"] {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		default:
			return nil, false
		}
		size := (curve.Params().BitSize + 7) / 8
		x, y := str("x"), str("y")
		if len(x) != size || len(y) != size {
			return nil, false
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, false
		}
		return pub, true
	}
	return nil, false
}
