package fleet

import (
	"context"
	"encoding/hex"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/dpop"
)

// DPoPReplay is a dpop.ReplayStore shared by a fleet: a proof that passed
// on one instance is refused as a replay on every other. Each proof is one
// SET NX with an expiry at the end of the proof's acceptance window, under
// prefix + "dpop:" + hex(key) (the key is already a hash; no jti or
// thumbprint is stored raw). While Redis is unreachable Claim fails and the
// proof is refused with 503 (fail closed).
type DPoPReplay struct {
	c *Client
}

// NewDPoPReplay returns the fleet's replay store on c.
func NewDPoPReplay(c *Client) *DPoPReplay { return &DPoPReplay{c: c} }

// Claim records key until expires (at least one second, Redis's PX takes
// milliseconds) and reports whether no other instance had.
func (r *DPoPReplay) Claim(ctx context.Context, key dpop.ReplayKey, expires time.Time) (bool, error) {
	ttl := max(time.Until(expires), time.Second)
	k := r.c.prefix + "dpop:" + hex.EncodeToString(key[:])
	var fresh bool
	err := r.c.call(ctx, "record DPoP proof", func(ctx context.Context) error {
		var e error
		fresh, e = r.c.rdb.SetNX(ctx, k, "1", ttl).Result()
		return e
	})
	return fresh, err
}

var _ dpop.ReplayStore = (*DPoPReplay)(nil)
