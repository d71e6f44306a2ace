// Package edgeauth is the Caddy glue of edgeauth: the `edgeauth` app that holds
// the providers and shared caches, the `http.handlers.edgeauth` middleware and
// the `http.authentication.providers.edgeauth` authenticator. The protocol
// work lives in the sub-packages; this package only wires them to Caddy's
// config lifecycle.
package edgeauth

import (
	"fmt"
	"sort"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/edgeauth/caddy-edgeauth/module/assertsign"
	"github.com/edgeauth/caddy-edgeauth/module/dpop"
	"github.com/edgeauth/caddy-edgeauth/module/fleet"
	"github.com/edgeauth/caddy-edgeauth/module/metrics"
	"github.com/edgeauth/caddy-edgeauth/module/oidc"
	"github.com/edgeauth/caddy-edgeauth/module/token"
)

func init() {
	caddy.RegisterModule(App{})
}

// providerPool keeps each provider's discovery and signing keys alive across
// config reloads: a provider whose settings did not change is reused by the new
// config, so a reload neither drops keys nor refetches them.
var providerPool = caddy.NewUsagePool()

// App is the `edgeauth` app: named OpenID providers and the caches that every
// edgeauth handler of the config shares. It is configured by the `edgeauth`
// global option in a Caddyfile.
type App struct {
	// Providers are the OpenID providers, by name. Handlers refer to them by
	// that name; a bearer token is matched to a provider by its `iss`.
	Providers map[string]*ProviderConfig `json:"providers,omitempty"`

	// TokenCache bounds the cache of verified bearer tokens.
	TokenCache *TokenCacheConfig `json:"token_cache,omitempty"`

	// Session configures the sealed session cookies of the login flow.
	Session *SessionConfig `json:"session,omitempty"`

	// STS are the security token services, by name, at which routes
	// exchange callers' OIDC tokens for temporary cloud credentials.
	STS map[string]*STSConfig `json:"sts,omitempty"`

	// Assertion signs identity assertions for the routes that send them
	// (the `assertion` subdirective) and publishes their keys.
	Assertion *AssertionConfig `json:"assertion,omitempty"`

	signer    *assertsign.Signer // nil without Assertion
	signerCtx caddy.Context
	providers map[string]*provider
	exchanges map[string]*exchangeService
	sessions  *sessions
	poolKeys  []string
	cache     *token.Cache
	metrics   *metrics.Metrics
	logger    *zap.Logger
}

// TokenCacheConfig bounds the verified-token cache. A cached token costs no
// signature check; an entry never outlives the token's `exp`.
type TokenCacheConfig struct {
	// MaxEntries caps the number of cached tokens. Default: 20000 (about
	// 3.5 KB each: a ceiling of about 70 MB).
	MaxEntries int `json:"max_entries,omitempty"`
	// MaxTTL caps how long a verified token is trusted without a new check.
	// Default: 5m.
	MaxTTL caddy.Duration `json:"max_ttl,omitempty"`
}

// provider is one configured provider at run time.
type provider struct {
	name         string
	config       *ProviderConfig // with the preset applied
	remote       *oidc.Provider
	verifier     *token.Verifier // bearer tokens
	idTokens     *token.Verifier // ID tokens at login (audience: the client ID); nil without client_id
	logoutTokens *token.Verifier // back-channel logout tokens (audience: the client ID); nil without client_id
	clientID     string          // placeholders resolved
	clientSecret string
	opaque       *token.OpaqueChecker // opaque bearer tokens; nil refuses them
	dpop         *dpop.Checker        // DPoP proofs for this provider's bound tokens (dpopsetup.go)
	dpopRequired bool                 // `dpop required`: unbound tokens are refused
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "edgeauth",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision checks every provider's settings and attaches each provider to its
// shared, reload-surviving connection state. It does no network I/O: keys are
// fetched in the background once the app starts.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	a.providers = make(map[string]*provider, len(a.Providers))

	for _, name := range a.providerNames() {
		pc := a.Providers[name]
		if pc == nil {
			return fmt.Errorf("edgeauth: provider %s: empty configuration", name)
		}
		p, err := a.provisionProvider(name, pc)
		if err != nil {
			return err
		}
		a.providers[name] = p
	}

	maxEntries, maxTTL := token.DefaultCacheEntries, token.DefaultCacheTTL
	if a.TokenCache != nil {
		if a.TokenCache.MaxEntries < 0 || a.TokenCache.MaxTTL < 0 {
			return fmt.Errorf("edgeauth: token_cache: max_entries and max_ttl must not be negative")
		}
		if a.TokenCache.MaxEntries > 0 {
			maxEntries = a.TokenCache.MaxEntries
		}
		if a.TokenCache.MaxTTL > 0 {
			maxTTL = time.Duration(a.TokenCache.MaxTTL)
		}
	}
	a.cache = token.NewCache(maxEntries, maxTTL)
	m, err := metrics.New(ctx.GetMetricsRegistry())
	if err != nil {
		return fmt.Errorf("edgeauth: registering metrics: %v", err)
	}
	if err := m.ObserveProviders(a.providerStates); err != nil {
		return fmt.Errorf("edgeauth: registering metrics: %v", err)
	}
	a.metrics = m
	if err := a.provisionSessions(); err != nil {
		return err
	}
	if err := a.provisionDPoP(); err != nil {
		return err
	}
	if err := a.provisionAssertion(ctx); err != nil {
		return err
	}
	return a.provisionSTS()
}

func (a *App) provisionProvider(name string, configured *ProviderConfig) (*provider, error) {
	if err := validateName(name); err != nil {
		return nil, fmt.Errorf("edgeauth: provider %q: %v", name, err)
	}
	pc, err := configured.withPreset()
	if err != nil {
		return nil, fmt.Errorf("edgeauth: provider %s: %w", name, err)
	}
	if presetIssuer, ok := configured.presetIssuerOverridden(); ok {
		a.logger.Warn("provider issuer differs from its preset's; the preset's userinfo endpoint and scopes follow the issuer set here; drop `issuer` to use the preset's, or `preset` for another provider",
			zap.String("provider", name), zap.String("preset", configured.Preset),
			zap.String("preset_issuer", presetIssuer), zap.String("issuer", configured.Issuer))
	}
	oc, rules, err := pc.compile()
	if err != nil {
		return nil, fmt.Errorf("edgeauth: provider %s: %w", name, err)
	}
	for _, w := range oc.Warnings() {
		a.logger.Warn("provider configuration", zap.String("provider", name), zap.String("warning", w))
	}
	key := oc.PoolKey()
	val, _, err := providerPool.LoadOrNew(key, func() (caddy.Destructor, error) {
		return oidc.NewProvider(oc, a.logger.With(zap.String("provider", name)))
	})
	if err != nil {
		return nil, fmt.Errorf("edgeauth: provider %s: %w", name, err)
	}
	a.poolKeys = append(a.poolKeys, key)
	remote := val.(*oidc.Provider)
	rules.StatedIssuer = remote.StatedIssuer // a configured trailing "/" the discovery document lacks
	repl := caddy.NewReplacer()
	p := &provider{
		name:         name,
		config:       &pc,
		remote:       remote,
		verifier:     token.NewVerifier(name, rules, remote),
		clientID:     repl.ReplaceKnown(pc.ClientID, ""),
		clientSecret: repl.ReplaceKnown(pc.ClientSecret, ""),
	}
	if pc.OpaqueTokens != "" {
		p.opaque = token.NewOpaqueChecker(token.OpaqueConfig{
			Provider:     name,
			Mode:         token.OpaqueMode(pc.OpaqueTokens),
			Audiences:    pc.Audiences,
			ClientID:     p.clientID,
			ClientSecret: p.clientSecret,
			TTL:          time.Duration(pc.OpaqueCacheTTL),
			Rate:         pc.OpaqueRate,
			Burst:        pc.OpaqueBurst,
		}, remote)
	}
	if pc.OpaqueTokens == opaqueUserinfo {
		a.logger.Warn("opaque_tokens userinfo: the provider's userinfo answer is trusted for opaque tokens; "+
			"when it names no audience or client, a token issued to any application of this provider passes, "+
			"and its expiry and type are not known; prefer opaque_tokens introspection",
			zap.String("provider", name))
	}
	if pc.ClientSecret != "" && p.clientSecret == "" {
		return nil, fmt.Errorf("edgeauth: provider %s: client_secret %q is empty once its placeholders are resolved; set the environment variable it names", name, pc.ClientSecret)
	}
	if p.clientID != "" {
		// ID tokens are meant for this client alone, whatever other
		// audiences bearer tokens may carry.
		// Each kind of token has its own typ list, so that none passes
		// as another (OIDC Back-Channel Logout 1.0 §2.4, RFC 8725 §3.11).
		idRules := token.IDTokenRules(rules, p.clientID)
		p.idTokens = token.NewVerifier(name, idRules, remote)
		p.logoutTokens = token.NewVerifier(name, fleet.LogoutTokenRules(idRules), remote)
	}
	return p, nil
}

// providerNames returns the configured provider names in a stable order.
func (a *App) providerNames() []string {
	names := make([]string, 0, len(a.Providers))
	for name := range a.Providers {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Start begins loading every provider's discovery document and keys in the
// background; Caddy starts even when a provider is unreachable.
func (a *App) Start() error {
	for _, p := range a.providers {
		p.remote.Start()
	}
	a.startAssertion()
	return nil
}

// Stop does nothing: providers outlive a config and are stopped by Cleanup
// when no config uses them any more.
func (a *App) Stop() error {
	return nil
}

// Cleanup releases this config's hold on the shared providers and stops the
// token cache.
func (a *App) Cleanup() error {
	for _, key := range a.poolKeys {
		_, _ = providerPool.Delete(key)
	}
	a.poolKeys = nil
	if a.cache != nil {
		a.cache.Stop()
	}
	if a.signer != nil {
		// The config's context is done: Run returns; nothing may write the
		// key set after the config is gone.
		a.signer.Wait()
	}
	if a.sessions != nil && a.sessions.redis != nil {
		_ = a.sessions.redis.Close()
	}
	return nil
}

// lookup returns the named providers, or every provider when names is empty.
func (a *App) lookup(names []string) ([]*provider, error) {
	if len(names) == 0 {
		names = a.providerNames()
		if len(names) == 0 {
			return nil, fmt.Errorf("no provider is configured: add `provider <name> { issuer … }` to the edgeauth global option")
		}
	}
	out := make([]*provider, 0, len(names))
	for _, name := range names {
		p, ok := a.providers[name]
		if !ok {
			return nil, fmt.Errorf("provider %q is not defined: add `provider %s { issuer … }` to the edgeauth global option (defined: %v)", name, name, a.providerNames())
		}
		out = append(out, p)
	}
	return out, nil
}

// appFrom fetches the edgeauth app of the running config.
func appFrom(ctx caddy.Context) (*App, error) {
	v, err := ctx.App("edgeauth")
	if err != nil {
		return nil, fmt.Errorf("loading the edgeauth app: %v", err)
	}
	return v.(*App), nil
}

// Interface guards.
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)
