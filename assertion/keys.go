package assertion

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// loadRetry is the least time between two attempts to load keys while
// none are loaded (the gateway is down or misconfigured).
const loadRetry = time.Second

// keySource holds the gateway's keys: loaded on first use, refreshed in the
// background when their lifetime ends, refetched at most once per cooldown
// for an unknown kid. Reads on the request path take an immutable snapshot
// through an atomic pointer.
type keySource struct {
	issuer    string // discovery is fetched below it when discover is set
	discovery bool
	client    *http.Client
	cooldown  time.Duration
	timeout   time.Duration
	now       func() time.Time

	jwksURL     atomic.Pointer[string]
	keys        atomic.Pointer[keySet]
	nextRefresh atomic.Int64 // unix nanoseconds of the next background refresh
	refreshing  atomic.Bool

	flight  singleflight.Group
	fetchMu sync.Mutex // serialises fetches so an older answer never overwrites a newer one

	mu           sync.Mutex // guards the fields below
	lastKidFetch time.Time
	lastLoad     time.Time
	loadErr      error
}

// key returns the key with this kid. Before any key is loaded it loads them
// (one fetch shared by all callers, at most one attempt per loadRetry);
// errors then wrap ErrKeysUnavailable. An unknown kid triggers one refetch,
// at most once per cooldown counted from the previous unknown-kid refetch,
// shared by all concurrent callers; ctx bounds only the wait, never the
// shared fetch.
func (s *keySource) key(ctx context.Context, kid string) (publicKey, error) {
	ks := s.keys.Load()
	if ks == nil {
		if err := s.load(ctx); err != nil {
			return publicKey{}, err
		}
		ks = s.keys.Load()
	} else {
		s.refreshIfDue()
	}
	if k, ok := ks.byID[kid]; ok {
		return k, nil
	}
	ch := s.flight.DoChan("kid", func() (any, error) {
		s.kidRefetch()
		return nil, nil
	})
	select {
	case <-ctx.Done():
		return publicKey{}, fmt.Errorf("%w: gave up waiting for a key refetch: %v", ErrKeysUnavailable, ctx.Err())
	case <-ch:
	}
	if k, ok := s.keys.Load().byID[kid]; ok {
		return k, nil
	}
	return publicKey{}, ErrUnknownKey
}

// load fetches the first keys.
func (s *keySource) load(ctx context.Context) error {
	ch := s.flight.DoChan("load", func() (any, error) {
		if s.keys.Load() != nil {
			return nil, nil
		}
		s.mu.Lock()
		if !s.lastLoad.IsZero() && s.now().Sub(s.lastLoad) < loadRetry {
			err := s.loadErr
			s.mu.Unlock()
			return nil, err
		}
		s.lastLoad = s.now()
		s.mu.Unlock()
		err := s.fetchDetached()
		s.mu.Lock()
		s.loadErr = err
		s.mu.Unlock()
		return nil, err
	})
	select {
	case <-ctx.Done():
		return fmt.Errorf("%w: %v", ErrKeysUnavailable, ctx.Err())
	case res := <-ch:
		if res.Err != nil && s.keys.Load() == nil {
			return fmt.Errorf("%w: %v", ErrKeysUnavailable, res.Err)
		}
	}
	return nil
}

// kidRefetch refetches the keys unless the cooldown since the previous
// unknown-kid refetch still runs. A failure keeps the previous keys.
func (s *keySource) kidRefetch() {
	s.mu.Lock()
	now := s.now()
	if !s.lastKidFetch.IsZero() && now.Sub(s.lastKidFetch) < s.cooldown {
		s.mu.Unlock()
		return
	}
	s.lastKidFetch = now
	s.mu.Unlock()
	_ = s.fetchDetached()
}

// refreshIfDue starts one background refresh when the keys' lifetime has
// ended. The request that notices goes on with the current keys. After a
// failure the next attempt waits one cooldown.
func (s *keySource) refreshIfDue() {
	if s.now().UnixNano() < s.nextRefresh.Load() || !s.refreshing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer s.refreshing.Store(false)
		if err := s.fetchDetached(); err != nil {
			s.nextRefresh.Store(s.now().Add(s.cooldown).UnixNano())
		}
	}()
}

// fetchDetached fetches with its own timeout, so that one caller giving up
// does not fail a fetch that others wait for.
func (s *keySource) fetchDetached() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	return s.fetch(ctx)
}

// fetch loads discovery (once, when configured and not yet done) and the
// JWKS, and publishes the keys. On failure the previous keys stay.
func (s *keySource) fetch(ctx context.Context) error {
	s.fetchMu.Lock()
	defer s.fetchMu.Unlock()
	uri := s.jwksURL.Load()
	if uri == nil {
		if !s.discovery {
			return errNoJWKSURI // unreachable: set at construction
		}
		u, err := s.discover(ctx)
		if err != nil {
			return err
		}
		uri = &u
		s.jwksURL.Store(uri)
	}
	body, hdr, err := s.get(ctx, "JWKS", *uri)
	if err != nil {
		return err
	}
	ks, err := parseJWKS(body)
	if err != nil {
		return fmt.Errorf("the JWKS from %s: %v", *uri, err)
	}
	s.keys.Store(ks)
	lifetime := keyLifetime(hdr.Get("Cache-Control"), DefaultKeyLifetime)
	s.nextRefresh.Store(s.now().Add(lifetime).UnixNano())
	return nil
}
