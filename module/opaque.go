package edgeauth

import (
	"context"

	"github.com/edgeauth/caddy-edgeauth/module/identity"
)

// authenticateOpaque checks an opaque token with the route's opaque
// provider (token.OpaqueChecker holds the rules), through the
// verified-token cache under that checker's key.
func (b *bearerAuth) authenticateOpaque(ctx context.Context, raw string) (*identity.Identity, error) {
	p := b.opaque
	key := p.opaque.CacheKey(raw)
	if id, ok := b.app.cache.Get(key); ok && id.Provider == p.name {
		b.app.metrics.TokenCache(true)
		return id, nil
	}
	b.app.metrics.TokenCache(false)
	id, err := p.opaque.Check(ctx, raw)
	if err != nil {
		return nil, err
	}
	if id.Binding, err = bindingOrError(id.Claims); err != nil {
		return nil, err
	}
	b.app.cache.Put(key, id)
	return id, nil
}
