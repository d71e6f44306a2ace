package demoidp

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// MintOption changes how Mint and MintFor build a token.
type MintOption func(*mintConfig)

type mintConfig struct {
	kid        string
	alg        string
	headers    map[string]any
	withoutKID bool
	noDefaults bool
	foreign    bool
	claims     map[string]any
}

// WithKID signs with the key kid (published or removed) instead of the current one.
func WithKID(kid string) MintOption { return func(c *mintConfig) { c.kid = kid } }

// WithAlg puts alg in the header. "none" gives an unsigned token (empty
// signature); HS256/HS384/HS512 sign with HMAC keyed by the signing key's
// public key in PEM (the classic key-confusion attack); an algorithm of the
// key's own family signs for real with that algorithm; any other value is a
// lying header on a token signed with the key's own algorithm.
func WithAlg(alg string) MintOption { return func(c *mintConfig) { c.alg = alg } }

// WithHeader sets a JOSE header member (jku, jwk, x5u, crit, typ…); it is
// applied last, so it can also override kid, typ or alg. A nil value
// removes the member (e.g. WithHeader("typ", nil) for a token without typ).
func WithHeader(name string, value any) MintOption {
	return func(c *mintConfig) {
		if c.headers == nil {
			c.headers = map[string]any{}
		}
		c.headers[name] = value
	}
}

// WithForeignKey signs with a key of the same algorithm that this provider
// never published, while the header names the chosen key's kid: a token
// whose signature cannot verify against the JWKS.
func WithForeignKey() MintOption { return func(c *mintConfig) { c.foreign = true } }

// WithoutKID leaves kid out of the header.
func WithoutKID() MintOption { return func(c *mintConfig) { c.withoutKID = true } }

// WithoutDefaults stops Mint from filling iss, iat, exp, aud and sub.
func WithoutDefaults() MintOption { return func(c *mintConfig) { c.noDefaults = true } }

// WithClaims merges claims over the ones Mint or MintFor built; a nil value
// deletes the claim (e.g. WithClaims(map[string]any{"exp": nil})).
func WithClaims(claims map[string]any) MintOption {
	return func(c *mintConfig) {
		if c.claims == nil {
			c.claims = map[string]any{}
		}
		for k, v := range claims {
			c.claims[k] = v
		}
	}
}

// Mint signs claims as a JWT with the current key. Unless WithoutDefaults is
// given, absent iss (the issuer), iat (now), exp (now + AccessTokenTTL), aud
// (the first client's ID) and sub (the first user's subject) are filled in.
func (s *Server) Mint(claims map[string]any, opts ...MintOption) (string, error) {
	var cfg mintConfig
	for _, o := range opts {
		o(&cfg)
	}
	c := make(jwt.MapClaims, len(claims)+5)
	for k, v := range claims {
		c[k] = v
	}
	if !cfg.noDefaults {
		now := s.opts.Now()
		setDefault(c, "iss", s.Issuer())
		setDefault(c, "iat", now.Unix())
		setDefault(c, "exp", now.Add(s.opts.AccessTokenTTL).Unix())
		setDefault(c, "aud", s.opts.Clients[0].ID)
		setDefault(c, "sub", s.opts.Users[0].Subject)
	}
	for k, v := range cfg.claims {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return s.sign(c, &cfg, "JWT")
}

// MintFor builds Alibaba-style claims for the configured user with that
// username: sub, scope (space-separated), aid/uid with "aliuid", type, name,
// upn and login_name with "profile", email with "email", plus iss, aud (the
// first client), iat, exp and jti. Scopes the user may not grant are dropped,
// exactly as the authorize endpoint would.
func (s *Server) MintFor(username string, scopes []string, opts ...MintOption) (string, error) {
	u, ok := s.user(username)
	if !ok {
		return "", fmt.Errorf("demoidp: unknown user %q", username)
	}
	granted := grantable(u, scopes)
	claims := userClaims(u, granted)
	claims["scope"] = strings.Join(granted, " ")
	claims["jti"] = randomToken(12)
	return s.Mint(claims, opts...)
}

func setDefault(c jwt.MapClaims, k string, v any) {
	if _, ok := c[k]; !ok {
		c[k] = v
	}
}

// sign serializes and signs claims according to cfg.
func (s *Server) sign(claims jwt.MapClaims, cfg *mintConfig, typ string) (string, error) {
	var key *signingKey
	if cfg.kid != "" {
		if key = s.keys.get(cfg.kid); key == nil {
			return "", fmt.Errorf("demoidp: unknown kid %q", cfg.kid)
		}
	} else {
		var err error
		if key, err = s.keys.currentKey(); err != nil {
			return "", err
		}
	}
	kid := key.kid
	if cfg.foreign {
		var err error
		if key, err = s.foreignKey(key.alg); err != nil {
			return "", err
		}
	}
	alg := cfg.alg
	if alg == "" {
		alg = key.alg
	}
	var (
		method  jwt.SigningMethod
		signKey any = key.private
	)
	switch {
	case alg == "none":
		method, signKey = jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType
	case strings.HasPrefix(alg, "HS"):
		method = jwt.GetSigningMethod(alg)
		der, err := x509.MarshalPKIXPublicKey(key.public())
		if err != nil {
			return "", fmt.Errorf("demoidp: encoding public key: %w", err)
		}
		signKey = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	case sameFamily(alg, key.alg):
		method = jwt.GetSigningMethod(alg)
	default:
		method = key.method()
	}
	if method == nil {
		method = key.method()
	}
	t := jwt.NewWithClaims(method, claims)
	t.Header["alg"] = alg
	t.Header["typ"] = typ
	if !cfg.withoutKID {
		t.Header["kid"] = kid
	}
	for k, v := range cfg.headers {
		if v == nil {
			delete(t.Header, k)
		} else {
			t.Header[k] = v
		}
	}
	out, err := t.SignedString(signKey)
	if err != nil {
		return "", fmt.Errorf("demoidp: signing token with %s: %w", alg, err)
	}
	return out, nil
}

// sameFamily reports whether a key generated for keyAlg can also sign alg.
func sameFamily(alg, keyAlg string) bool {
	rsaFamily := func(a string) bool { return strings.HasPrefix(a, "RS") || strings.HasPrefix(a, "PS") }
	switch {
	case rsaFamily(keyAlg):
		return rsaFamily(alg) && jwt.GetSigningMethod(alg) != nil
	default:
		return alg == keyAlg
	}
}

// foreignKey returns the unpublished key WithForeignKey signs with, made on
// first use for alg.
func (s *Server) foreignKey(alg string) (*signingKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := s.foreign[alg]; k != nil {
		return k, nil
	}
	k, err := generateKey(alg)
	if err != nil {
		return nil, err
	}
	k.published = false
	if s.foreign == nil {
		s.foreign = map[string]*signingKey{}
	}
	s.foreign[alg] = k
	return k, nil
}
