package edgeauth

import (
	"context"

	"github.com/edgeauth/caddy-edgeauth/module/oidc"
)

// ProviderKeys is one provider's discovery and signing keys as just
// fetched, for `caddy edgeauth keys` and `caddy edgeauth explain`.
type ProviderKeys struct {
	// Name is the configured provider name.
	Name string
	// Issuer is the configured issuer.
	Issuer string
	// JWKSURI is where the keys came from ("" when discovery failed).
	JWKSURI string
	// Keys are the usable signing keys.
	Keys []oidc.Key
	// Status is the provider's state after the fetch (fetch time, errors).
	Status oidc.Status
	// Err is the fetch failure, if any; it never holds a secret.
	Err error
}

// FetchKeys loads every provider's discovery document and keys now, in
// order of name, for an app that was provisioned but not started (the
// commands). A running app keeps its keys fresh by itself.
func (a *App) FetchKeys(ctx context.Context) []ProviderKeys {
	out := make([]ProviderKeys, 0, len(a.providers))
	for _, name := range a.providerNames() {
		p := a.providers[name]
		pk := ProviderKeys{Name: name, Issuer: p.remote.Issuer()}
		pk.Err = p.remote.Refresh(ctx)
		if m, ok := p.remote.Metadata(); ok {
			pk.JWKSURI = m.JWKSURI
		}
		pk.Keys = p.remote.Keys()
		pk.Status = p.remote.Status()
		out = append(out, pk)
	}
	return out
}
