package sts

import (
	"context"
	"math/rand/v2"
	"time"
)

// SharedStore shares credentials between the Caches of several gateway
// instances (a fleet) and serialises their exchanges per key. Keys are
// Cache keys (see Key). Implementations must keep credentials sealed at
// rest and drop them at validUntil; they must never print them.
type SharedStore interface {
	// Get returns the credentials stored under key and the time until which
	// they may be used, or nil credentials when there are none.
	Get(ctx context.Context, key string) (cr *Credentials, validUntil time.Time, err error)
	// Set stores cr under key until validUntil.
	Set(ctx context.Context, key string, cr *Credentials, validUntil time.Time) error
	// TryLock tries once to take the fleet-wide exchange lock of key for at
	// most ttl. ok is false when another instance holds it. unlock (set
	// when ok) releases the lock if it is still held by this call.
	TryLock(ctx context.Context, key string, ttl time.Duration) (unlock func(), ok bool, err error)
}

// fetchShared returns credentials for key from the shared store, or
// exchanges them while holding the fleet-wide lock of key and publishes
// them. While another instance holds the lock it waits (polling every
// SharedPoll) for that instance's result. When the shared store fails the
// instance exchanges on its own: a store outage costs extra exchanges, not
// availability. The returned time is when the credentials stop being
// usable for this caller.
func (c *Cache) fetchShared(ctx context.Context, key string, sourceExpiry time.Time, fetch func(ctx context.Context) (*Credentials, error)) (*Credentials, time.Time, error) {
	sh := c.cfg.Shared
	for {
		cr, until, err := c.sharedLookup(ctx, key, sourceExpiry)
		if err != nil {
			break
		}
		if cr != nil {
			return cr, until, nil
		}
		unlock, ok, err := sh.TryLock(ctx, key, c.cfg.FetchTimeout)
		if err != nil {
			c.sharedErrs.Add(1)
			break
		}
		if ok {
			defer unlock()
			// Another instance may have published between our look-up and
			// the lock.
			if cr, until, err := c.sharedLookup(ctx, key, sourceExpiry); err == nil && cr != nil {
				return cr, until, nil
			}
			cr, err := c.exchange(ctx, fetch)
			if err != nil {
				return nil, time.Time{}, err
			}
			until := c.validUntil(cr, sourceExpiry)
			if err := sh.Set(ctx, key, cr, until); err != nil {
				c.sharedErrs.Add(1)
			}
			return cr, until, nil
		}
		// Jitter so that waiting instances do not poll in lock step.
		wait := c.cfg.SharedPoll + rand.N(c.cfg.SharedPoll/2+1)
		select {
		case <-ctx.Done():
			return nil, time.Time{}, &Error{Kind: Unavailable, Code: CodeTimeout, RetryAfter: DefaultRetryAfter,
				Message: "timed out waiting for another gateway instance's exchange"}
		case <-time.After(wait):
		}
	}
	cr, err := c.exchange(ctx, fetch)
	if err != nil {
		return nil, time.Time{}, err
	}
	return cr, c.validUntil(cr, sourceExpiry), nil
}

// sharedLookup returns shared credentials usable now by a caller whose
// token expires at sourceExpiry and until when, or nil credentials.
func (c *Cache) sharedLookup(ctx context.Context, key string, sourceExpiry time.Time) (*Credentials, time.Time, error) {
	cr, until, err := c.cfg.Shared.Get(ctx, key)
	if err != nil {
		c.sharedErrs.Add(1)
		return nil, time.Time{}, err
	}
	if cr == nil {
		return nil, time.Time{}, nil
	}
	if !sourceExpiry.IsZero() && sourceExpiry.Before(until) {
		until = sourceExpiry
	}
	if now := c.cfg.Now(); !now.Before(until) || !now.Before(cr.Expiration) {
		return nil, time.Time{}, nil
	}
	c.sharedHits.Add(1)
	return cr, until, nil
}
