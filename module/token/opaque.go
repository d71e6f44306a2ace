package token

import (
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/identity"
	"github.com/edgeauth/caddy-edgeauth/module/oidc"
)

// OpaqueMode says how a provider answers for opaque (non-JWT) access tokens.
type OpaqueMode string

// The ways to check opaque bearer tokens.
const (
	// OpaqueUserinfo asks the userinfo endpoint; an answer that names no
	// audience or client cannot be tied to this gateway and is accepted
	// (the documented limit of the mode).
	OpaqueUserinfo OpaqueMode = "userinfo"
	// OpaqueIntrospection asks the RFC 7662 introspection endpoint as the
	// configured client; the answer must name this gateway's audience or
	// client.
	OpaqueIntrospection OpaqueMode = "introspection"
)

// Defaults of OpaqueConfig's zero values.
const (
	// DefaultOpaqueTTL is how long a provider's answer is trusted.
	DefaultOpaqueTTL = 2 * time.Minute
	// DefaultOpaqueRate is the calls per second for tokens not seen before.
	DefaultOpaqueRate = 20.0
	// DefaultOpaqueBurst is how many such calls may be made at once.
	DefaultOpaqueBurst = 40
)

// opaqueCallTimeout bounds one userinfo or introspection call.
const opaqueCallTimeout = 10 * time.Second

// OpaqueSource answers for opaque tokens. *oidc.Provider satisfies it; its
// errors oidc.ErrTokenRejected (a refusal) and anything else (an outage) are
// told apart.
type OpaqueSource interface {
	// Userinfo returns the userinfo endpoint's claims for an access token.
	Userinfo(ctx context.Context, accessToken string) (map[string]any, error)
	// Introspect returns an active token's RFC 7662 answer.
	Introspect(ctx context.Context, tok, clientID, clientSecret string) (map[string]any, error)
	// TokenIssuer is the `iss` an answer must carry when it states one.
	TokenIssuer() string
	// Issuer is the configured issuer, reported as the identity's.
	Issuer() string
}

var _ OpaqueSource = (*oidc.Provider)(nil)

// OpaqueConfig configures an OpaqueChecker. Zero TTL, Rate and Burst take
// the defaults; ranges are the caller's to check.
type OpaqueConfig struct {
	// Provider names the provider (the identity's Provider, the cache key).
	Provider string
	// Mode is OpaqueUserinfo or OpaqueIntrospection.
	Mode OpaqueMode
	// Audiences are the accepted `aud`, `client_id` and `azp` values of an
	// answer. Default: ClientID.
	Audiences []string
	// ClientID and ClientSecret authenticate at the introspection endpoint.
	ClientID     string
	ClientSecret string
	// TTL bounds how long an answer is trusted (never past a stated exp).
	TTL time.Duration
	// Rate (calls per second) and Burst bound the calls for tokens neither
	// cached nor recently refused; past them the check answers 503.
	Rate  float64
	Burst int
}

// OpaqueChecker checks one provider's opaque access tokens: the shape of
// the token, the provider's answer (userinfo or introspection) and the
// rules that tie that answer to this gateway. It holds the provider's shared
// state — the call bucket, the calls in flight and the tokens refused lately
// — so one checker serves every route of the provider.
type OpaqueChecker struct {
	cfg      OpaqueConfig
	source   OpaqueSource
	accepted []string
	gate     *opaqueGate
}

// NewOpaqueChecker returns the checker of one provider's opaque tokens.
func NewOpaqueChecker(cfg OpaqueConfig, source OpaqueSource) *OpaqueChecker {
	if cfg.TTL == 0 {
		cfg.TTL = DefaultOpaqueTTL
	}
	if cfg.Rate == 0 {
		cfg.Rate = DefaultOpaqueRate
	}
	if cfg.Burst == 0 {
		cfg.Burst = DefaultOpaqueBurst
	}
	accepted := cfg.Audiences
	if len(accepted) == 0 {
		accepted = []string{cfg.ClientID}
	}
	return &OpaqueChecker{cfg: cfg, source: source, accepted: accepted, gate: newOpaqueGate(cfg.Rate, cfg.Burst)}
}

// Mode returns how the checker asks the provider.
func (c *OpaqueChecker) Mode() OpaqueMode { return c.cfg.Mode }

// JWTShaped reports whether a bearer token has the shape of a signed JWT
// (three dot-separated parts). Anything else — random strings, five-part
// JWE — is opaque to the gateway.
func JWTShaped(raw string) bool { return strings.Count(raw, ".") == 2 }

// CacheKey is the verified-token cache key of an opaque token checked by c:
// the answer holds only for the provider and the mode that gave it, so a
// route that sends opaque tokens elsewhere never takes it from the cache.
// (Cache hashes the key; the token is not stored.)
func (c *OpaqueChecker) CacheKey(raw string) string {
	return "opaque\x00" + c.cfg.Provider + "\x00" + string(c.cfg.Mode) + "\x00" + raw
}

// errRejectedOpaque answers a token the provider refused, now or a moment ago.
var errRejectedOpaque = &Error{Kind: Invalid, Code: CodeRejectedByProvider, Description: "token rejected by the provider"}

// Check asks the provider about an opaque access token and builds the
// identity it answers for, or returns an *Error. A token that cannot be an
// access token costs no call; concurrent checks of one token share one call;
// calls for tokens not seen before are bounded by the bucket, past which the
// caller is told to come back (Unavailable, CodeRateLimited); a token the
// provider refused is refused again without a call for a while.
func (c *OpaqueChecker) Check(ctx context.Context, raw string) (*identity.Identity, error) {
	if !opaqueShaped(raw) {
		return nil, &Error{Kind: Invalid, Code: CodeMalformed, Description: "malformed token"}
	}
	g := c.gate
	key := sha256.Sum256([]byte(raw))
	if g.rejected.has(key) {
		return nil, errRejectedOpaque
	}
	ch := g.flight.DoChan(string(key[:]), func() (any, error) {
		// The bucket is spent inside the shared call: waiters on one token
		// cost one token of the bucket, and all get the same answer.
		if wait, ok := g.bucket.take(); !ok {
			return nil, &Error{Kind: Unavailable, Code: CodeRateLimited, Description: "too many unknown tokens for this provider; try again shortly", RetryAfter: wait}
		}
		// The shared call must not fail every waiter because the first
		// caller went away; it has its own bound instead.
		callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opaqueCallTimeout)
		defer cancel()
		id, err := c.ask(callCtx, raw)
		var te *Error
		if errors.As(err, &te) && te.Kind == Invalid {
			g.rejected.add(key)
		}
		return id, err
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*identity.Identity), nil
	case <-ctx.Done():
		return nil, &Error{Kind: Unavailable, Code: CodeOther, Description: "the request ended before the provider answered", RetryAfter: time.Second}
	}
}

// ask does one userinfo or introspection call, maps its errors to token
// errors (a refusal is Invalid, an outage Unavailable) and checks the
// answer: subject, issuer, binding to this gateway (checkAnswerBinding) and
// expiry.
func (c *OpaqueChecker) ask(ctx context.Context, raw string) (*identity.Identity, error) {
	var claims map[string]any
	var err error
	if c.cfg.Mode == OpaqueIntrospection {
		claims, err = c.source.Introspect(ctx, raw, c.cfg.ClientID, c.cfg.ClientSecret)
	} else {
		claims, err = c.source.Userinfo(ctx, raw)
	}
	switch {
	case errors.Is(err, oidc.ErrTokenRejected):
		return nil, errRejectedOpaque
	case err != nil:
		return nil, &Error{Kind: Unavailable, Code: CodeProviderUnavailable, Description: "the provider could not check the token", RetryAfter: 5 * time.Second}
	}
	sub, _ := claims["sub"].(string)
	if sub == "" || !identity.Clean(sub) {
		return nil, &Error{Kind: Invalid, Code: CodeOther, Description: "the provider's answer names no subject"}
	}
	if v, present := claims["iss"]; present {
		if iss, ok := v.(string); !ok || iss != c.source.TokenIssuer() {
			return nil, &Error{Kind: Invalid, Code: CodeIssuerNotTrusted, Description: "issuer not trusted"}
		}
	}
	if te := checkAnswerBinding(claims, c.accepted, c.cfg.Mode); te != nil {
		return nil, te
	}
	now := time.Now()
	expiry := now.Add(c.cfg.TTL)
	if v, present := claims["exp"]; present {
		exp, ok := NumericDate(v)
		if !ok || !exp.After(now) {
			return nil, &Error{Kind: Invalid, Code: CodeExpired, Description: "token expired"}
		}
		if exp.Before(expiry) {
			expiry = exp
		}
	}
	var scopes []string
	if s, ok := claims["scope"].(string); ok {
		scopes = SplitScopes(s)
	}
	return &identity.Identity{
		Provider: c.cfg.Provider,
		Subject:  sub,
		Issuer:   c.source.Issuer(),
		Scopes:   scopes,
		Claims:   claims,
		Expiry:   expiry,
		Token:    raw,
	}, nil
}
