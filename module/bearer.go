package edgeauth

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/edgeauth/caddy-edgeauth/module/identity"
	"github.com/edgeauth/caddy-edgeauth/module/token"
)

// bearerAuth verifies bearer tokens for one route against its providers,
// through the app's verified-token cache. The handler and the authenticator
// share it.
type bearerAuth struct {
	app       *App
	providers []*provider
	selector  *token.Selector
	opaque    *provider // the first provider that accepts opaque tokens; nil: none
	origin    string    // dpop_origin, normalised ("" = the request's own)
}

// setup resolves the named providers (all when names is empty).
func (b *bearerAuth) setup(ctx caddy.Context, names []string) error {
	app, err := appFrom(ctx)
	if err != nil {
		return err
	}
	b.app = app
	if b.providers, err = app.lookup(names); err != nil {
		return fmt.Errorf("edgeauth: %w", err)
	}
	verifiers := make([]*token.Verifier, 0, len(b.providers))
	issuers := make(map[string]string, len(b.providers))
	for _, p := range b.providers {
		// Issuers that differ only by a trailing "/" name one provider
		// (see oidc.IssuerMatches).
		iss := strings.TrimRight(p.verifier.Issuer(), "/")
		if other, dup := issuers[iss]; dup {
			return fmt.Errorf("edgeauth: providers %s and %s have the same issuer %s; a route can accept only one provider per issuer (list one of them, or merge their audiences)", other, p.name, iss)
		}
		issuers[iss] = p.name
		verifiers = append(verifiers, p.verifier)
	}
	b.selector = token.NewSelector(verifiers...)
	for _, p := range b.providers {
		if p.opaque != nil {
			b.opaque = p
			break
		}
	}
	return nil
}

// authenticate verifies a bearer token, through the verified-token cache.
// For a JWT it leaves the token's SHA-256 (its cache key) in *key, else it
// leaves *key alone and reports false in hashed.
func (b *bearerAuth) authenticate(ctx context.Context, raw string, key *token.Key) (id *identity.Identity, hashed bool, err error) {
	if b.opaque != nil && !token.JWTShaped(raw) {
		id, err = b.authenticateOpaque(ctx, raw)
		return id, false, err
	}
	*key = token.KeyOf(raw)
	id, err = b.authenticateJWT(ctx, raw, key)
	return id, true, err
}

// authenticateJWT verifies a JWT whose cache key is key. A new token's
// identity is offered to the cache, which keeps it from the token's second
// sight on (token.Cache.Offer): a token used once costs no cache entry.
func (b *bearerAuth) authenticateJWT(ctx context.Context, raw string, key *token.Key) (*identity.Identity, error) {
	if id, ok := b.app.cache.Lookup(key); ok && b.accepts(id.Provider) {
		b.app.metrics.TokenCache(true)
		return id, nil
	}
	b.app.metrics.TokenCache(false)
	id, err := b.selector.Verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	// The binding is read before the identity is cached and shared; it is
	// checked on every request (binding.go).
	if id.Binding, err = bindingOrError(id.Claims); err != nil {
		return nil, err
	}
	b.app.cache.Offer(key, id)
	return id, nil
}

// soleProvider names the route's provider when it has exactly one (so a
// refused token can be counted under it), else "".
func (b *bearerAuth) soleProvider() string {
	if len(b.providers) == 1 {
		return b.providers[0].name
	}
	return ""
}

// accepts reports whether the named provider is one of this route's.
func (b *bearerAuth) accepts(name string) bool {
	for _, p := range b.providers {
		if p.name == name {
			return true
		}
	}
	return false
}

// multipleAuthorization reports whether the request carries more than one
// Authorization field (in any spelling of the name). Such a request is
// refused rather than judged on one of them: the upstream receives the
// original fields and might read another token than the one verified.
func multipleAuthorization(r *http.Request) bool {
	n := 0
	for k, v := range r.Header {
		if strings.EqualFold(k, "Authorization") {
			n += len(v)
		}
	}
	return n > 1
}

// bearerToken returns the token of an `Authorization: Bearer` header and
// whether one was presented. Other schemes count as no credential; a token in
// the query string is never read.
func bearerToken(r *http.Request) (string, bool) {
	auth := r.Header.Get("Authorization")
	const scheme = "bearer "
	if len(auth) <= len(scheme) || !strings.EqualFold(auth[:len(scheme)], scheme) {
		return "", false
	}
	return strings.TrimSpace(auth[len(scheme):]), true
}
