package edgeauth

import (
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/identity"
	"github.com/edgeauth/caddy-edgeauth/module/oidc"
	"github.com/edgeauth/caddy-edgeauth/module/token"
)

// isJWT reports whether a bearer token has the shape of a signed JWT (three
// dot-separated parts). Anything else — random strings, five-part JWE — is
// opaque to the gateway.
func isJWT(raw string) bool { return strings.Count(raw, ".") == 2 }

// opaqueCacheKey is the verified-token cache key of an opaque token checked
// at p: the answer holds only for the provider and the mode that gave it, so
// a route that sends opaque tokens elsewhere never takes it from the cache.
// (The cache hashes the key; the token is not stored.)
func opaqueCacheKey(p *provider, raw string) string {
	return "opaque\x00" + p.name + "\x00" + p.opaque + "\x00" + raw
}

// authenticateOpaque checks an opaque token at the route's opaque provider,
// through the verified-token cache under that provider's key.
func (b *bearerAuth) authenticateOpaque(ctx context.Context, raw string) (*identity.Identity, error) {
	p := b.opaque
	key := opaqueCacheKey(p, raw)
	if id, ok := b.app.cache.Get(key); ok && id.Provider == p.name {
		b.app.metrics.TokenCache(true)
		return id, nil
	}
	b.app.metrics.TokenCache(false)
	id, err := checkOpaque(ctx, p, raw)
	if err != nil {
		return nil, err
	}
	if id.Binding, err = bindingOrError(id.Claims); err != nil {
		return nil, err
	}
	b.app.cache.Put(key, id)
	return id, nil
}

// checkOpaque asks the provider about an opaque access token (userinfo or
// introspection) and builds the identity it answers for. A token that
// cannot be an access token costs no call; concurrent checks of one token
// share one call; calls for tokens not seen before are bounded by the
// provider's bucket, past which the caller is told to come back (503).
func checkOpaque(ctx context.Context, p *provider, raw string) (*identity.Identity, error) {
	if !opaqueShaped(raw) {
		return nil, &token.Error{Kind: token.Invalid, Code: token.CodeMalformed, Description: "malformed token"}
	}
	g := p.gate
	key := sha256.Sum256([]byte(raw))
	if g.rejected.has(key) {
		return nil, errRejectedOpaque
	}
	ch := g.flight.DoChan(string(key[:]), func() (any, error) {
		// The bucket is spent inside the shared call: waiters on one token
		// cost one token of the bucket, and all get the same answer.
		if wait, ok := g.bucket.take(); !ok {
			return nil, &token.Error{Kind: token.Unavailable, Code: token.CodeRateLimited, Description: "too many unknown tokens for this provider; try again shortly", RetryAfter: wait}
		}
		// The shared call must not fail every waiter because the first
		// caller went away; it has its own bound instead.
		callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opaqueCallTimeout)
		defer cancel()
		id, err := askProvider(callCtx, p, raw)
		var te *token.Error
		if errors.As(err, &te) && te.Kind == token.Invalid {
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
		return nil, &token.Error{Kind: token.Unavailable, Code: token.CodeOther, Description: "the request ended before the provider answered", RetryAfter: time.Second}
	}
}

// opaqueCallTimeout bounds one userinfo or introspection call.
const opaqueCallTimeout = 10 * time.Second

// errRejectedOpaque answers a token the provider refused a moment ago.
var errRejectedOpaque = &token.Error{Kind: token.Invalid, Code: token.CodeRejectedByProvider, Description: "token rejected by the provider"}

// askProvider does one userinfo or introspection call, maps its errors to
// token errors (a refusal is invalid_token, an outage is 503) and checks the
// answer: subject, issuer, binding to this gateway (checkAnswerBinding) and
// expiry.
func askProvider(ctx context.Context, p *provider, raw string) (*identity.Identity, error) {
	var claims map[string]any
	var err error
	if p.opaque == opaqueIntrospection {
		claims, err = p.remote.Introspect(ctx, raw, p.clientID, p.clientSecret)
	} else {
		claims, err = p.remote.Userinfo(ctx, raw)
	}
	switch {
	case errors.Is(err, oidc.ErrTokenRejected):
		return nil, &token.Error{Kind: token.Invalid, Code: token.CodeRejectedByProvider, Description: "token rejected by the provider"}
	case err != nil:
		return nil, &token.Error{Kind: token.Unavailable, Code: token.CodeProviderUnavailable, Description: "the provider could not check the token", RetryAfter: 5 * time.Second}
	}
	sub, _ := claims["sub"].(string)
	if sub == "" || !identity.Clean(sub) {
		return nil, &token.Error{Kind: token.Invalid, Code: token.CodeOther, Description: "the provider's answer names no subject"}
	}
	if v, present := claims["iss"]; present {
		if iss, ok := v.(string); !ok || iss != p.remote.TokenIssuer() {
			return nil, &token.Error{Kind: token.Invalid, Code: token.CodeIssuerNotTrusted, Description: "issuer not trusted"}
		}
	}
	if te := checkAnswerBinding(claims, p); te != nil {
		return nil, te
	}
	now := time.Now()
	expiry := now.Add(p.opaqueTTL)
	if v, present := claims["exp"]; present {
		exp, ok := token.NumericDate(v)
		if !ok || !exp.After(now) {
			return nil, &token.Error{Kind: token.Invalid, Code: token.CodeExpired, Description: "token expired"}
		}
		if exp.Before(expiry) {
			expiry = exp
		}
	}
	var scopes []string
	if s, ok := claims["scope"].(string); ok {
		scopes = token.SplitScopes(s)
	}
	return &identity.Identity{
		Provider: p.name,
		Subject:  sub,
		Issuer:   p.remote.Issuer(),
		Scopes:   scopes,
		Claims:   claims,
		Expiry:   expiry,
		Token:    raw,
	}, nil
}
