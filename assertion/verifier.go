package assertion

import (
	"context"
	"fmt"
	"slices"

	"github.com/golang-jwt/jwt/v5"
)

// Verifier checks assertions from one gateway for one audience. It is safe
// for concurrent use; make one per audience and keep it (it caches keys).
// It starts no goroutine of its own except a short-lived background key
// refresh, so it needs no Close.
type Verifier struct {
	issuer   string
	audience string
	cfg      config
	keys     *keySource
}

// NewVerifier returns a verifier that finds the gateway's keys through its
// discovery document, <issuer>/.well-known/edgeauth/openid-configuration,
// whose issuer must equal issuer byte for byte and whose jwks_uri names the
// key set. issuer is the gateway's `assertion { issuer … }`, https (http
// only on a loopback host); audience is the audience the route states
// (`assertion <audience>`, by default the origin the client used, e.g.
// https://app.example.com). No network I/O happens here: keys load on first
// use (or call Refresh).
func NewVerifier(issuer, audience string, opts ...Option) (*Verifier, error) {
	if err := checkURL("issuer", issuer); err != nil {
		return nil, err
	}
	return newVerifier(issuer, audience, "", opts)
}

// NewVerifierFromJWKS is NewVerifier with the key set's URL given directly
// (e.g. https://gw.example.com/.well-known/edgeauth/jwks.json), for a
// backend that must not or cannot fetch discovery. The issuer is still
// required: every assertion's iss must equal it.
func NewVerifierFromJWKS(jwksURL, issuer, audience string, opts ...Option) (*Verifier, error) {
	if err := checkURL("JWKS URL", jwksURL); err != nil {
		return nil, err
	}
	if issuer == "" {
		return nil, fmt.Errorf("assertion: the issuer is required")
	}
	return newVerifier(issuer, audience, jwksURL, opts)
}

func newVerifier(issuer, audience, jwksURL string, opts []Option) (*Verifier, error) {
	if audience == "" {
		return nil, fmt.Errorf("assertion: the audience is required")
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	ks := &keySource{
		issuer:    issuer,
		discovery: jwksURL == "",
		client:    cfg.client,
		cooldown:  cfg.cooldown,
		timeout:   cfg.httpTimeout,
		now:       cfg.now,
	}
	if jwksURL != "" {
		ks.jwksURL.Store(&jwksURL)
	}
	return &Verifier{issuer: issuer, audience: audience, cfg: cfg, keys: ks}, nil
}

// Issuer returns the issuer assertions must carry.
func (v *Verifier) Issuer() string { return v.issuer }

// Audience returns the audience assertions must carry.
func (v *Verifier) Audience() string { return v.audience }

// Refresh fetches discovery (when used and not yet loaded) and the keys
// now, regardless of the cooldown. On failure the previous keys stay. A
// backend may call it at start to fail fast on a wrong issuer.
func (v *Verifier) Refresh(ctx context.Context) error {
	if err := v.keys.fetch(ctx); err != nil {
		return fmt.Errorf("%w: %v", ErrKeysUnavailable, err)
	}
	return nil
}

// Verify checks a compact JWS assertion and returns the identity it states.
// Every error wraps one of the Err* reasons of this package; ctx bounds a
// wait for keys. Errors never contain token content.
func (v *Verifier) Verify(ctx context.Context, compact string) (*Identity, error) {
	if len(compact) > v.cfg.maxSize {
		return nil, refuse(ErrTooLarge, fmt.Sprintf("more than %d bytes", v.cfg.maxSize))
	}
	t, err := parseCompact(compact)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(v.cfg.algs, t.alg) {
		return nil, refuse(ErrAlgorithm, "alg is not one of the allowed algorithms")
	}
	if len(t.sig) == 0 {
		return nil, refuse(ErrMalformed, "empty signature")
	}
	key, err := v.keys.key(ctx, t.kid)
	if err != nil {
		return nil, err
	}
	if !key.fits(t.alg) {
		return nil, refuse(ErrAlgorithm, "the key with this kid is not for this alg")
	}
	method := jwt.GetSigningMethod(t.alg)
	if method == nil {
		return nil, refuse(ErrAlgorithm, "alg is not supported") // unreachable for the allowed four
	}
	if err := method.Verify(t.signingInput, t.sig, key.key); err != nil {
		return nil, ErrSignature
	}
	payload, err := b64.DecodeString(t.payload)
	if err != nil {
		return nil, refuse(ErrMalformed, "claims are not base64url")
	}
	claims, err := decodeObject(payload)
	if err != nil {
		return nil, refuse(ErrMalformed, "claims: "+jsonProblem(err))
	}
	id := &Identity{KeyID: t.kid, Algorithm: t.alg}
	if err := id.readClaims(claims); err != nil {
		return nil, err
	}
	if err := v.checkClaims(id); err != nil {
		return nil, err
	}
	return id, nil
}

// checkClaims checks issuer, audience and time.
func (v *Verifier) checkClaims(id *Identity) error {
	if id.AssertionIssuer != v.issuer {
		return ErrIssuer
	}
	ok, err := audienceIs(id.Claims["aud"], v.audience)
	if err != nil {
		return err
	}
	if !ok {
		return ErrAudience
	}
	id.Audience = v.audience
	now := v.cfg.now()
	if !now.Before(id.ExpiresAt.Add(v.cfg.skew)) {
		return ErrExpired
	}
	if id.IssuedAt.After(now.Add(v.cfg.skew)) {
		return refuse(ErrNotYetValid, "iat is in the future")
	}
	if _, present := id.Claims["nbf"]; present {
		nbf, err := numericDate(id.Claims, "nbf")
		if err != nil {
			return err
		}
		if nbf.After(now.Add(v.cfg.skew)) {
			return refuse(ErrNotYetValid, "nbf is in the future")
		}
	}
	if id.ExpiresAt.Sub(id.IssuedAt) > MaxLifetime {
		return refuse(ErrLifetime, fmt.Sprintf("exp is more than %s after iat", MaxLifetime))
	}
	return nil
}
