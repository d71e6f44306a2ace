package edgeauth

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"

	"github.com/edgeauth/caddy-edgeauth/module/assertsign"
	"github.com/edgeauth/caddy-edgeauth/module/decision"
	"github.com/edgeauth/caddy-edgeauth/module/fleet"
	"github.com/edgeauth/caddy-edgeauth/module/identity"
)

// AssertionConfig is the `assertion` block of the edgeauth global option:
// how the gateway signs the identity assertions that routes with
// `assertion` send to their upstreams.
type AssertionConfig struct {
	// Issuer is the assertions' `iss`: the gateway's https URL (http only
	// for loopback hosts). Required.
	Issuer string `json:"issuer,omitempty"`
	// Algorithm is ES256 (default), EdDSA, RS256 or PS256.
	Algorithm string `json:"algorithm,omitempty"`
	// Lifetime is how long an assertion is valid: 30s to 1h, default 2m.
	Lifetime caddy.Duration `json:"lifetime,omitempty"`
	// Rotate is how often a generated key is replaced: default 720h, at
	// least 30s and at least the lifetime.
	Rotate caddy.Duration `json:"rotate,omitempty"`
	// KeyFile is a PEM private key (EC P-256, Ed25519 or RSA ≥ 2048 bits)
	// that matches Algorithm; with it nothing is generated or rotated.
	KeyFile string `json:"key_file,omitempty"`
}

// AssertionUse turns the identity assertion on for a route.
type AssertionUse struct {
	// Audience is the assertions' `aud`. Default: the request's origin,
	// `<scheme>://<host>` as Caddy routed it.
	Audience string `json:"audience,omitempty"`
}

// assertionPlaceholder holds the route's assertion; the default
// X-Auth-Assertion header is set from it, and `header` templates may use it.
const assertionPlaceholder = "http.auth.assertion"

// config returns the signer's configuration.
func (c *AssertionConfig) config() assertsign.Config {
	return assertsign.Config{
		Issuer: c.Issuer, Algorithm: c.Algorithm, KeyFile: c.KeyFile,
		Lifetime: time.Duration(c.Lifetime), Rotate: time.Duration(c.Rotate),
	}
}

// provisionAssertion builds the signer when the global option has an
// `assertion` block. Keys live in the Redis session store when one is
// configured (so a fleet whose instances keep separate local storage still
// signs with one key set), else in the config's storage (Caddy's `storage`
// global option); nothing is read from either until first use.
func (a *App) provisionAssertion(ctx caddy.Context) error {
	if a.Assertion == nil {
		return nil
	}
	storage, err := a.assertionStorage(ctx)
	if err != nil {
		return err
	}
	s, err := assertsign.New(a.Assertion.config(), assertsign.Options{
		Storage: storage,
		Logger:  a.logger.Named("assertion"),
		OnSign:  a.metrics.AssertionSigned,
	})
	if err != nil {
		return fmt.Errorf("edgeauth: %w", err)
	}
	if s.Config().IsHTTP() {
		a.logger.Warn("assertion issuer uses plain http; this is only acceptable for local development", zap.String("issuer", s.Config().Issuer))
	}
	a.signer = s
	a.signerCtx = ctx
	return nil
}

// assertionStorage is where generated assertion keys live: the Redis
// session store's client when there is one (the keys sealed with the
// session secrets, as the sessions are), else Caddy's storage.
func (a *App) assertionStorage(ctx caddy.Context) (certmagic.Storage, error) {
	if a.sessions == nil || a.sessions.redis == nil {
		return ctx.Storage(), nil
	}
	ks, err := fleet.NewKeyStore(a.sessions.redis, fleet.KeyStoreConfig{Sealer: a.sessions.sealer, Logger: a.logger.Named("assertion")})
	if err != nil {
		return nil, fmt.Errorf("edgeauth: assertion: %v", err)
	}
	return ks, nil
}

// startAssertion starts re-reading the key set, until the config unloads.
func (a *App) startAssertion() {
	if a.signer != nil && a.signerCtx.Context != nil {
		a.signer.Start(a.signerCtx)
	}
}

// provisionAssertion checks the route's `assertion` against the app.
func (h *Handler) provisionAssertion() error {
	h.signer = h.bearer.app.signer
	if h.Assertion != nil && h.signer == nil {
		return fmt.Errorf("edgeauth: assertion: the route sends a signed identity assertion, but the edgeauth global option has no `assertion { issuer … }` block; add one, e.g. `assertion { issuer https://gw.example.com }`")
	}
	return nil
}

// assertionHeaderSpecs drops the default X-Auth-Assertion header on a
// route without `assertion` (it still strips the client's copy), so that
// such routes never look the placeholder up.
func (h *Handler) assertionHeaderSpecs(specs []identity.HeaderSpec) []identity.HeaderSpec {
	if h.Assertion != nil {
		return specs
	}
	for _, s := range specs {
		if strings.EqualFold(strings.TrimPrefix(s.Name, "-"), assertsign.DefaultHeader) {
			return specs
		}
	}
	return append(specs, identity.HeaderSpec{Name: "-" + assertsign.DefaultHeader})
}

// serveWellKnown answers the JWKS and discovery paths when the app signs
// assertions, on every edgeauth route.
func (h *Handler) serveWellKnown(w http.ResponseWriter, r *http.Request) bool {
	return h.signer != nil && h.signer.ServeWellKnown(w, r)
}

// assert signs (or takes from the cache) the route's assertion for id and
// sets it as the {http.auth.assertion} placeholder, from which the
// X-Auth-Assertion header is injected. roleARN is the STS role on STS
// routes.
func (h *Handler) assert(r *http.Request, id *identity.Identity, roleARN string, repl *caddy.Replacer) error {
	if h.Assertion == nil {
		return nil
	}
	aud := h.Assertion.Audience
	if aud == "" {
		aud = assertsign.Origin(r)
	}
	jws, err := h.signer.Assertion(r.Context(), assertsign.ClaimsFor(id, aud, roleARN))
	if err != nil {
		return err
	}
	repl.Set(assertionPlaceholder, jws)
	return nil
}

// denyAssertion answers a request whose assertion could not be signed:
// 503 with Retry-After, as for other outages.
func (h *Handler) denyAssertion(w http.ResponseWriter, r *http.Request, provider string, err error) error {
	if !errors.Is(err, assertsign.ErrUnavailable) {
		h.logger.Error("identity assertion failed", zap.Error(err))
	}
	h.decide(r, decision.ReasonAssertionUnavailable, provider, "")
	return refuse(w, r, unavailableDenial(decision.ReasonAssertionUnavailable, "temporarily_unavailable", "the identity assertion cannot be signed now", 5*time.Second, nil))
}

// unmarshalBlock reads the global `assertion { … }` block; the
// dispenser stands on `assertion`. See App.UnmarshalCaddyfile.
func (c *AssertionConfig) unmarshalBlock(d *caddyfile.Dispenser) error {
	if err := noValue(d, "assertion", "a block, e.g. `assertion { issuer https://gw.example.com }`"); err != nil {
		return err
	}
	strs := map[string]*string{"issuer": &c.Issuer, "algorithm": &c.Algorithm, "key_file": &c.KeyFile}
	durations := map[string]*caddy.Duration{"lifetime": &c.Lifetime, "rotate": &c.Rotate}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		switch {
		case strs[opt] != nil:
			v, err := oneString(d, "assertion "+opt)
			if err != nil {
				return err
			}
			*strs[opt] = v
		case durations[opt] != nil:
			if err := oneDuration(d, "assertion "+opt, durations[opt]); err != nil {
				return err
			}
		default:
			return d.Errf("assertion: unknown option %q (expected issuer, algorithm, lifetime, rotate or key_file)", opt)
		}
	}
	if err := c.config().WithDefaults().Validate(); err != nil {
		return d.Errf("%v", err)
	}
	return nil
}

// unmarshalAssertionUse reads the directive's `assertion [<audience>]`.
func unmarshalAssertionUse(d *caddyfile.Dispenser) (*AssertionUse, error) {
	aud, _, err := optionalArg(d, "assertion", "audience", "`assertion [<audience>]`, e.g. `assertion https://orders.internal`")
	if err != nil {
		return nil, err
	}
	if err := noBlock(d, "assertion"); err != nil {
		return nil, err
	}
	return &AssertionUse{Audience: aud}, nil
}

// handleAssertion answers GET /edgeauth/assertion: the signing
// settings and the published keys (IDs, ages, which one signs), never a
// private key.
func (api *adminAPI) handleAssertion(w http.ResponseWriter, _ *http.Request) error {
	a, err := api.runningApp()
	if err != nil {
		return err
	}
	if a.signer == nil {
		return caddy.APIError{
			HTTPStatus: http.StatusNotFound,
			Err:        fmt.Errorf("the running config signs no identity assertions (add `assertion { issuer … }` to the edgeauth global option)"),
		}
	}
	cfg := a.signer.Config()
	return writeAdminJSON(w, struct {
		Issuer           string               `json:"issuer"`
		Algorithm        string               `json:"algorithm"`
		LifetimeSeconds  float64              `json:"lifetime_seconds"`
		RotateSeconds    float64              `json:"rotate_seconds,omitempty"`
		KeyFile          bool                 `json:"key_file"`
		Keys             []assertsign.KeyInfo `json:"keys"`
		CachedAssertions int                  `json:"cached_assertions"`
	}{
		Issuer: cfg.Issuer, Algorithm: cfg.Algorithm, LifetimeSeconds: cfg.Lifetime.Seconds(),
		RotateSeconds: rotateSeconds(cfg), KeyFile: cfg.KeyFile != "",
		Keys: a.signer.Keys(), CachedAssertions: a.signer.CacheLen(),
	})
}

// rotateSeconds is the rotation period, or 0 with a key file (no rotation).
func rotateSeconds(cfg assertsign.Config) float64 {
	if cfg.KeyFile != "" {
		return 0
	}
	return cfg.Rotate.Seconds()
}
