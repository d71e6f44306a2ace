package edgeauth

import (
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/identity"
	"github.com/edgeauth/caddy-edgeauth/module/oidc"
	"github.com/edgeauth/caddy-edgeauth/module/token"
)

// isJWT reports whether a bearer token has the shape of a signed JWT (three
// dot-separated parts). Anything else — random strings, five-part JWE — is
// opaque to the gateway.
func isJWT(raw string) bool { return strings.Count(raw, ".") == 2 }

// checkOpaque asks the provider about an opaque access token (userinfo or
// introspection) and builds the identity it answers for. Concurrent checks
// of one token share one request.
func (b *bearerAuth) checkOpaque(ctx context.Context, p *provider, raw string) (*identity.Identity, error) {
	if len(raw) > token.DefaultMaxTokenSize {
		return nil, &token.Error{Kind: token.Invalid, Description: "token too large"}
	}
	key := sha256.Sum256([]byte(raw))
	if b.rejected.has(key) {
		return nil, errRejectedOpaque
	}
	ch := b.opaqueFlight.DoChan(string(key[:]), func() (any, error) {
		// The shared call must not fail every waiter because the first
		// caller went away; it has its own bound instead.
		callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opaqueCallTimeout)
		defer cancel()
		id, err := askProvider(callCtx, p, raw)
		var te *token.Error
		if errors.As(err, &te) && te.Kind == token.Invalid {
			b.rejected.add(key)
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
		return nil, &token.Error{Kind: token.Unavailable, Description: "the request ended before the provider answered", RetryAfter: time.Second}
	}
}

// opaqueCallTimeout bounds one userinfo or introspection call.
const opaqueCallTimeout = 10 * time.Second

// errRejectedOpaque answers a token the provider refused a moment ago.
var errRejectedOpaque = &token.Error{Kind: token.Invalid, Description: "token rejected by the provider"}

// rejectedTokens remembers, for a short while, opaque tokens the provider
// refused, so that replaying a bad token does not cost a provider call each
// time. It is bounded: when full, it forgets everything at once.
type rejectedTokens struct {
	mu      sync.Mutex
	entries map[[32]byte]time.Time
}

const (
	rejectedTTL = 30 * time.Second
	rejectedMax = 10000
)

func (rt *rejectedTokens) has(key [32]byte) bool {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	until, ok := rt.entries[key]
	if ok && time.Now().After(until) {
		delete(rt.entries, key)
		return false
	}
	return ok
}

func (rt *rejectedTokens) add(key [32]byte) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.entries == nil || len(rt.entries) >= rejectedMax {
		rt.entries = make(map[[32]byte]time.Time)
	}
	rt.entries[key] = time.Now().Add(rejectedTTL)
}

// askProvider does one userinfo or introspection call and maps its errors to
// token errors: a refusal is invalid_token, an outage is 503.
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
		return nil, &token.Error{Kind: token.Invalid, Description: "token rejected by the provider"}
	case err != nil:
		return nil, &token.Error{Kind: token.Unavailable, Description: "the provider could not check the token", RetryAfter: 5 * time.Second}
	}
	sub, _ := claims["sub"].(string)
	if sub == "" {
		return nil, &token.Error{Kind: token.Invalid, Description: "the provider's answer names no subject"}
	}
	if iss, ok := claims["iss"].(string); ok && iss != p.remote.Issuer() {
		return nil, &token.Error{Kind: token.Invalid, Description: "issuer not trusted"}
	}
	if p.opaque == opaqueIntrospection {
		if !isAccessTokenType(claims["token_type"]) {
			return nil, &token.Error{Kind: token.Invalid, Description: "not an access token"}
		}
		if !introspectedFor(claims, p) {
			return nil, &token.Error{Kind: token.Invalid, Description: "token was issued to another client"}
		}
	}
	now := time.Now()
	expiry := now.Add(p.opaqueTTL)
	if v, present := claims["exp"]; present {
		exp, ok := token.NumericDate(v)
		if !ok || !exp.After(now) {
			return nil, &token.Error{Kind: token.Invalid, Description: "token expired"}
		}
		if exp.Before(expiry) {
			expiry = exp
		}
	}
	var scopes []string
	if s, ok := claims["scope"].(string); ok {
		scopes = strings.Fields(s)
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

// isAccessTokenType reports whether an introspection answer's token_type
// (optional in RFC 7662) allows the token as a bearer access token: a
// refresh token, for instance, is active too, but is no credential for an
// API call.
func isAccessTokenType(v any) bool {
	t, present := v.(string)
	if !present {
		return v == nil
	}
	switch strings.ToLower(t) {
	case "", "bearer", "access_token", "urn:ietf:params:oauth:token-type:access_token", "dpop", "n_a":
		return true
	}
	return false
}

// introspectedFor reports whether an introspection answer's audience (or
// client_id) fits the provider's accepted audiences; an answer that states
// neither is accepted, as RFC 7662 makes both optional.
func introspectedFor(claims map[string]any, p *provider) bool {
	var stated []string
	switch aud := claims["aud"].(type) {
	case string:
		stated = append(stated, aud)
	case []any:
		for _, a := range aud {
			if s, ok := a.(string); ok {
				stated = append(stated, s)
			}
		}
	}
	if cid, ok := claims["client_id"].(string); ok {
		stated = append(stated, cid)
	}
	if len(stated) == 0 {
		return true
	}
	accepted := p.config.Audiences
	if len(accepted) == 0 {
		accepted = []string{p.clientID}
	}
	for _, s := range stated {
		for _, a := range accepted {
			if s == a {
				return true
			}
		}
	}
	return false
}
