// Package token verifies bearer JWTs against an OpenID provider's keys,
// picks the verifier by issuer and caches verified tokens.
package token

import (
	"context"
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/edgeauth/caddy-edgeauth/module/identity"
	"github.com/edgeauth/caddy-edgeauth/module/oidc"
)

// maxKeylessCandidates bounds how many keys are tried for a token without
// a key ID.
const maxKeylessCandidates = 3

// Rules are what a token must satisfy besides its signature.
type Rules struct {
	// Issuer must equal the token's `iss` exactly, unless StatedIssuer
	// gives another string.
	Issuer string
	// StatedIssuer, when set and returning a non-empty string, is the
	// issuer as the provider's discovery document states it; it then
	// replaces Issuer for the `iss` equality (a configured issuer with a
	// trailing "/" whose document states it without). *oidc.Provider's
	// StatedIssuer fits.
	StatedIssuer func() string
	// Audiences: the token's `aud` must contain one of them. Empty accepts
	// no token (fail closed).
	Audiences []string
	// Algorithms is the allow-list (default RS256). Names that
	// ValidateAlgorithms refuses are ignored, never allowed.
	Algorithms []string
	// ClockSkew is tolerated on exp, nbf, iat and MaxTokenAge.
	ClockSkew time.Duration
	// MaxTokenAge, when > 0, refuses tokens whose iat is older (and
	// tokens without iat).
	MaxTokenAge time.Duration
	// MaxTokenSize in bytes (default 20000); larger tokens are refused
	// before parsing.
	MaxTokenSize int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Types is the allow-list of JWS `typ` header values, compared in
	// NormalizeType's form (case-insensitive, "application/" optional); ""
	// admits a token without typ. nil means DefaultTypes (untyped, JWT,
	// at+jwt). Use IDTokenTypes for ID tokens and LogoutTokenTypes for
	// back-channel logout tokens; ValidateTypes checks a bearer list.
	Types []string
	// EventTokens accepts tokens with an `events` claim (RFC 8417 security
	// event tokens, such as logout tokens). Otherwise they are refused, so
	// that an untyped logout token never passes as an access or ID token.
	EventTokens bool
}

// KeySource provides a provider's signing keys. *oidc.Provider satisfies it.
type KeySource interface {
	// Key returns the key with the given ID, or oidc.ErrKeysNotLoaded or
	// oidc.ErrUnknownKey.
	Key(ctx context.Context, kid string) (oidc.Key, error)
	// Keys returns all keys (nil or empty when none are loaded).
	Keys() []oidc.Key
}

var _ KeySource = (*oidc.Provider)(nil)

// Verifier checks bearer JWTs of one provider.
type Verifier struct {
	provider string
	rules    Rules
	keys     KeySource
	allowed  map[string]jwt.SigningMethod
	types    []string // normalised typ allow-list; "" = untyped
	now      func() time.Time
}

// NewVerifier returns a verifier for tokens of one provider. provider is
// the configured name placed in Identity.Provider. Call ValidateAlgorithms
// on rules.Algorithms at configuration time: refused names are dropped here.
func NewVerifier(provider string, rules Rules, keys KeySource) *Verifier {
	if rules.MaxTokenSize <= 0 {
		rules.MaxTokenSize = DefaultMaxTokenSize
	}
	if len(rules.Algorithms) == 0 {
		rules.Algorithms = []string{DefaultAlgorithm}
	}
	rules.Audiences = append([]string(nil), rules.Audiences...)
	rules.Algorithms = append([]string(nil), rules.Algorithms...)
	v := &Verifier{
		provider: provider,
		rules:    rules,
		keys:     keys,
		allowed:  make(map[string]jwt.SigningMethod),
		types:    normalizeTypes(rules.Types),
		now:      rules.Now,
	}
	if v.now == nil {
		v.now = time.Now
	}
	for _, a := range rules.Algorithms {
		if m, ok := signingMethods[a]; ok {
			v.allowed[a] = m
		}
	}
	return v
}

// Issuer returns the configured issuer of this verifier (the Selector's
// key); TokenIssuer is the `iss` it accepts.
func (v *Verifier) Issuer() string { return v.rules.Issuer }

// TokenIssuer returns the `iss` this verifier accepts now: the stated
// issuer once known, else the configured one.
func (v *Verifier) TokenIssuer() string {
	if v.rules.StatedIssuer != nil {
		if s := v.rules.StatedIssuer(); s != "" {
			return s
		}
	}
	return v.rules.Issuer
}

// Verify checks raw (the bearer token, without "Bearer ") and returns the
// caller's identity. Errors are *Error.
func (v *Verifier) Verify(ctx context.Context, raw string) (*identity.Identity, error) {
	var p parsed // on the stack: an allocation less per new token
	if e := p.parse(raw, v.rules.MaxTokenSize); e != nil {
		return nil, e
	}
	return v.verifyParsed(ctx, raw, &p)
}

func (v *Verifier) verifyParsed(ctx context.Context, raw string, p *parsed) (*identity.Identity, error) {
	if len(raw) > v.rules.MaxTokenSize {
		return nil, invalid(CodeTooLarge, "token too large")
	}
	method, ok := v.allowed[p.alg]
	if !ok {
		if name := safeName(p.alg); name != "" {
			return nil, invalid(CodeAlgorithmNotAllowed, "algorithm "+name+" not allowed")
		}
		return nil, invalid(CodeAlgorithmNotAllowed, "algorithm not allowed")
	}
	// The type is checked before any key lookup, so a token of the wrong
	// kind never causes a JWKS refetch.
	if e := v.checkType(p); e != nil {
		return nil, e
	}
	var buf [maxKeylessCandidates]oidc.Key
	candidates, e := v.candidates(ctx, p, buf[:0])
	if e != nil {
		return nil, e
	}
	verified := false
	for _, k := range candidates {
		if verifySignature(method, p.signingInput, p.sig, k.Public) == nil {
			verified = true
			break
		}
	}
	if !verified {
		return nil, invalid(CodeBadSignature, "invalid signature")
	}
	exp, e := v.checkClaims(p.claims)
	if e != nil {
		return nil, e
	}
	if _, isEvent := p.claims["events"]; isEvent && !v.rules.EventTokens {
		return nil, invalid(CodeWrongType, "token is a security event token (events claim), not an access or ID token")
	}
	// A sender-constrained token (RFC 9449 DPoP `cnf.jkt`, RFC 8705 mTLS
	// `cnf["x5t#S256"]`) passes here with its `cnf` claim; the gateway
	// holds it to that binding on every request (module/binding.go), so a
	// caller of Verify that checks no binding must refuse tokens with cnf.
	id := &identity.Identity{
		Provider: v.provider,
		Issuer:   v.TokenIssuer(),
		Scopes:   scopes(p.claims),
		Claims:   p.claims,
		Expiry:   exp,
		Token:    raw,
	}
	if sub, present := p.claims["sub"]; present {
		// A subject names one caller: an empty one, or one with control
		// characters (which no header could carry as it is), is refused
		// rather than exported as another value.
		s, ok := sub.(string)
		if !ok || s == "" || !identity.Clean(s) {
			return nil, invalid(CodeInvalidClaim, "invalid sub claim")
		}
		id.Subject = s
	}
	return id, nil
}

// candidates returns the keys that may have signed p, appended to buf
// (which a caller may keep on its stack).
func (v *Verifier) candidates(ctx context.Context, p *parsed, buf []oidc.Key) ([]oidc.Key, *Error) {
	if p.kid != "" {
		k, err := v.keys.Key(ctx, p.kid)
		switch {
		case err == nil:
		case errors.Is(err, oidc.ErrUnknownKey):
			return nil, invalid(CodeUnknownKey, "unknown signing key")
		case errors.Is(err, oidc.ErrKeysNotLoaded):
			return nil, unavailable(CodeKeysUnavailable, "signing keys not loaded yet")
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			return nil, unavailable(CodeKeysUnavailable, "signing key lookup interrupted")
		default:
			return nil, unavailable(CodeKeysUnavailable, "signing keys unavailable")
		}
		if !keyFits(k, p.alg) {
			return nil, invalid(CodeAlgorithmNotAllowed, "signing key does not fit algorithm "+p.alg)
		}
		return append(buf, k), nil
	}
	all := v.keys.Keys()
	if len(all) == 0 {
		return nil, unavailable(CodeKeysUnavailable, "signing keys not loaded yet")
	}
	out := buf
	for _, k := range all {
		if keyFits(k, p.alg) {
			out = append(out, k)
			if len(out) == maxKeylessCandidates {
				break
			}
		}
	}
	if len(out) == 0 {
		return nil, invalid(CodeAlgorithmNotAllowed, "no signing key fits algorithm "+p.alg)
	}
	return out, nil
}
