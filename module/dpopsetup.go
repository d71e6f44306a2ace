package edgeauth

import (
	"fmt"
	"sync"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/dpop"
	"github.com/edgeauth/caddy-edgeauth/module/fleet"
)

// The provider's `dpop` modes.
const (
	dpopAllowed  = "allowed"
	dpopRequired = "required"
)

// maxDPoPProofAge bounds dpop_proof_max_age: a longer window only widens
// what a stolen proof is worth.
const maxDPoPProofAge = 10 * time.Minute

// processReplay is the in-process DPoP replay store, shared by every
// provider and kept across config reloads (a reload must not forget proofs
// that are still inside their window).
var processReplay = sync.OnceValue(func() *dpop.MemoryReplay { return dpop.NewMemoryReplay(0) })

// checkDPoP validates the DPoP settings at load time.
func (pc *ProviderConfig) checkDPoP() error {
	switch pc.DPoP {
	case "", dpopAllowed, dpopRequired:
	default:
		return fmt.Errorf("dpop %q: use `dpop allowed` (bound tokens need proofs, others pass as bearer tokens) or `dpop required`", pc.DPoP)
	}
	if err := dpop.ValidateAlgorithms(pc.DPoPAlgorithms); err != nil {
		return err
	}
	if age := time.Duration(pc.DPoPProofMaxAge); age < 0 || age > maxDPoPProofAge {
		return fmt.Errorf("dpop_proof_max_age: %s is out of range; use a value between 1s and %s (default 60s)", age, maxDPoPProofAge)
	}
	if w := time.Duration(pc.DPoPNonceWindow); w < 0 || (w > 0 && w < 10*time.Second) || w > time.Hour {
		return fmt.Errorf("dpop_nonce: window %s is out of range; use a value between 10s and 1h (default 5m)", w)
	}
	return nil
}

// provisionDPoP gives each provider its proof checker: the replay store is
// the fleet's Redis when the session store is Redis, else the process's
// bounded memory store; nonces come from the first session secret.
func (a *App) provisionDPoP() error {
	var replay dpop.ReplayStore = processReplay()
	if a.sessions != nil && a.sessions.redis != nil {
		replay = fleet.NewDPoPReplay(a.sessions.redis)
	}
	for _, name := range a.providerNames() {
		p := a.providers[name]
		pc := p.config
		skew := time.Duration(pc.ClockSkew)
		if skew == 0 {
			skew = defaultSkew
		}
		cfg := dpop.Config{
			Algorithms: pc.DPoPAlgorithms,
			MaxAge:     time.Duration(pc.DPoPProofMaxAge),
			ClockSkew:  skew,
			Replay:     replay,
		}
		if pc.DPoPNonce {
			n, err := dpop.NewNonces(a.sessions.secret, name, time.Duration(pc.DPoPNonceWindow), nil)
			if err != nil {
				return fmt.Errorf("edgeauth: provider %s: dpop_nonce: %v", name, err)
			}
			cfg.Nonces = n
			if a.sessions.random {
				a.logger.Warn("dpop_nonce without a session secret: nonces are this instance's own; set `secret` in the session block so that every instance of a fleet accepts them")
			}
		}
		c, err := dpop.NewChecker(cfg)
		if err != nil {
			return fmt.Errorf("edgeauth: provider %s: %v", name, err)
		}
		p.dpop = c
		p.dpopRequired = pc.DPoP == dpopRequired
	}
	return nil
}
