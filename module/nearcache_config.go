package edgeauth

import (
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/dustin/go-humanize"

	"github.com/edgeauth/caddy-edgeauth/module/fleet"
)

// NearCacheConfig configures the near-cache of a Redis session store: each
// instance keeps the sessions it read from Redis in memory and answers
// requests from there, kept coherent through Redis (a logout, back-channel
// logout or refresh elsewhere drops the copy within Lease, whatever
// happens to the invalidation link). It is on by default.
type NearCacheConfig struct {
	// Off reads every session from Redis on every request.
	Off bool `json:"off,omitempty"`
	// MaxEntries bounds the sessions held per instance. Default: 100000.
	MaxEntries int `json:"max_entries,omitempty"`
	// MaxBytes bounds their estimated memory per instance. Default: 256 MiB.
	MaxBytes int64 `json:"max_bytes,omitempty"`
	// Lease is how long one confirmation of the invalidation link vouches
	// for the cached copies, so the longest a revoked session can still be
	// served by another instance (below 1s). Default: 500ms.
	Lease caddy.Duration `json:"lease,omitempty"`
}

// fleetConfig returns the store's near-cache configuration (nil when off).
func (n *NearCacheConfig) fleetConfig() (*fleet.NearCacheConfig, error) {
	if n == nil {
		return &fleet.NearCacheConfig{}, nil
	}
	if n.Off {
		if n.MaxEntries != 0 || n.MaxBytes != 0 || n.Lease != 0 {
			return nil, fmt.Errorf("edgeauth: session store redis near_cache: off takes no other setting; remove max_entries, max_bytes and lease, or off")
		}
		return nil, nil
	}
	cfg := &fleet.NearCacheConfig{MaxEntries: n.MaxEntries, MaxBytes: n.MaxBytes, Lease: time.Duration(n.Lease)}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("edgeauth: session store redis: %v", err)
	}
	return cfg, nil
}

// unmarshalNearCache reads `near_cache off` or `near_cache { … }` inside
// `store redis`. See App.UnmarshalCaddyfile for the syntax.
func unmarshalNearCache(d *caddyfile.Dispenser) (*NearCacheConfig, error) {
	const usage = "`near_cache off` or a block { max_entries, max_bytes, lease }"
	n := new(NearCacheConfig)
	v, ok, err := optionalArg(d, "store redis near_cache", "value", usage)
	if err != nil {
		return nil, err
	}
	if ok {
		if v != "off" {
			return nil, d.Errf("store redis near_cache: %q is not a setting; write %s", v, usage)
		}
		n.Off = true
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if n.Off {
			return nil, d.Errf("store redis near_cache off: takes no block")
		}
		switch opt := d.Val(); opt {
		case "max_entries":
			v, err := oneInt(d, "store redis near_cache max_entries", 0)
			if err != nil {
				return nil, err
			}
			if v == 0 {
				return nil, d.Errf("store redis near_cache max_entries: must be at least 1 (use `near_cache off` to turn the cache off)")
			}
			n.MaxEntries = v
		case "max_bytes":
			v, err := oneLeaf(d, "store redis near_cache max_bytes", "size", "`max_bytes <size>`, e.g. `max_bytes 64MiB`")
			if err != nil {
				return nil, err
			}
			b, err := humanize.ParseBytes(v)
			if err != nil || b == 0 || b > 1<<40 {
				return nil, d.Errf("store redis near_cache max_bytes: %q is not a size such as 64MiB", v)
			}
			n.MaxBytes = int64(b)
		case "lease":
			if err := oneDuration(d, "store redis near_cache lease", &n.Lease); err != nil {
				return nil, err
			}
			if n.Lease <= 0 || time.Duration(n.Lease) >= time.Second {
				return nil, d.Errf("store redis near_cache lease: %s must be above 0 and below 1s (the revocation bound); the default is 500ms", time.Duration(n.Lease))
			}
		default:
			return nil, d.Errf("store redis near_cache: unknown option %q (expected max_entries, max_bytes or lease)", opt)
		}
	}
	return n, nil
}
