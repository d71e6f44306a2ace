package oidc

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"
)

// ErrKeysNotLoaded means the provider's keys have not been loaded yet;
// callers answer 503 with Retry-After.
var ErrKeysNotLoaded = errors.New("signing keys not loaded yet")

// ErrUnknownKey means no key has the requested ID, even after a refetch
// (or while the refetch cooldown runs) that succeeded; callers answer 401.
var ErrUnknownKey = errors.New("unknown signing key")

// ErrKeysUnreachable means no loaded key has the requested ID and the
// latest attempt to fetch the JWKS failed: the ID may be a key the provider
// published since, so the token cannot be judged. Callers answer 503 with
// Retry-After, as when the keys have not loaded.
var ErrKeysUnreachable = errors.New("unknown signing key while the provider's keys cannot be fetched")

// Key returns the signing key with the given ID. An unknown ID triggers a
// JWKS refetch, at most once per KidCooldown counted from the previous
// unknown-kid refetch, shared by all concurrent callers; ctx bounds the
// wait. Errors: ErrKeysNotLoaded, ErrUnknownKey, ErrKeysUnreachable (the
// ID is unknown and the latest fetch failed) or ctx's error.
func (p *Provider) Key(ctx context.Context, kid string) (Key, error) {
	ks := p.keys.Load()
	if ks == nil {
		return Key{}, ErrKeysNotLoaded
	}
	if k, ok := ks.byID[kid]; ok {
		return k, nil
	}
	if kid == "" {
		return Key{}, ErrUnknownKey
	}
	ch := p.kidFlight.DoChan("kid-refetch", func() (any, error) {
		p.kidRefetch()
		return nil, nil
	})
	select {
	case <-ctx.Done():
		return Key{}, ctx.Err()
	case <-ch:
	}
	if k, ok := p.keys.Load().byID[kid]; ok {
		return k, nil
	}
	if p.keyFetchFailing.Load() {
		return Key{}, ErrKeysUnreachable
	}
	return Key{}, ErrUnknownKey
}

// kidRefetch refetches the JWKS unless the cooldown since the previous
// unknown-kid refetch is still running.
func (p *Provider) kidRefetch() {
	p.mu.Lock()
	now := p.now()
	if !p.lastKidFetch.IsZero() && now.Sub(p.lastKidFetch) < p.cfg.KidCooldown {
		p.mu.Unlock()
		return
	}
	p.lastKidFetch = now
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(p.ctx, p.cfg.HTTPTimeout)
	defer cancel()
	if err := p.fetchKeys(ctx); err != nil {
		p.logger.Warn("JWKS refetch for an unknown key ID failed; keeping the previous keys", zap.Error(err))
	}
}

// Keys returns all usable signing keys (a copy; nil before they load), for
// tokens without a key ID.
func (p *Provider) Keys() []Key {
	ks := p.keys.Load()
	if ks == nil {
		return nil
	}
	return append([]Key(nil), ks.all...)
}

// Refresh loads discovery (when still missing) and refetches the keys now,
// regardless of the kid cooldown, which it does not start. On failure the
// previous keys stay in place.
func (p *Provider) Refresh(ctx context.Context) error {
	if p.meta.Load() == nil {
		if err := p.loadDiscovery(ctx); err != nil && p.cfg.Overrides.JWKSURI == "" {
			return fmt.Errorf("refresh: %w", err)
		}
	}
	if err := p.fetchKeys(ctx); err != nil {
		return fmt.Errorf("refresh: %w", err)
	}
	return nil
}
