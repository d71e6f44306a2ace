package oidc

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"
)

// Provider is one OpenID provider: its discovery document, its signing keys
// (kept fresh in the background) and the HTTP client that reaches it.
//
// A Provider is safe for concurrent use. Key lookups on the request path read
// an immutable snapshot through an atomic pointer and never block unless the
// key ID is unknown.
type Provider struct {
	cfg         Config
	thumbprints []string
	logger      *zap.Logger
	client      *http.Client
	router      *hostRouter

	// now is the clock for the kid cooldown, key age and status; tests
	// replace it. Timers of the background loop use real time.
	now func() time.Time
	// backoffMin and backoffMax bound the retry delay of the background loop.
	backoffMin, backoffMax time.Duration

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	lifeMu  sync.Mutex
	started bool
	stopped bool

	meta atomic.Pointer[Metadata]
	// slashOnce logs once that discovery states the issuer without the
	// configured trailing "/".
	slashOnce sync.Once
	keys      atomic.Pointer[keySet]

	kidFlight   singleflight.Group
	fetchMu     sync.Mutex // serialises JWKS fetches so an older answer never overwrites a newer one
	jwksFetches atomic.Int64
	// keyFetchFailing is whether the latest JWKS fetch failed.
	keyFetchFailing atomic.Bool

	mu           sync.Mutex // guards the fields below
	lastKidFetch time.Time
	lastRefresh  time.Time
	lastError    string
	nextFetch    time.Time // real time of the next scheduled JWKS refresh
}

var _ caddy.Destructor = (*Provider)(nil)

// NewProvider validates cfg and prepares a provider without any network
// I/O. It fails when the tls_ca file cannot be read or holds no
// certificate. Call Start to begin loading discovery and keys.
func NewProvider(cfg Config, logger *zap.Logger) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = zap.NewNop()
	}
	var tps []string
	for _, t := range cfg.Thumbprints {
		n, _ := NormalizeThumbprint(t) // validated above
		tps = append(tps, n)
	}
	logger = logger.With(zap.String("issuer", cfg.Issuer))
	client, router, err := newHTTPClient(cfg, tps, logger)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Provider{
		cfg:         cfg,
		thumbprints: tps,
		logger:      logger,
		client:      client,
		router:      router,
		now:         time.Now,
		backoffMin:  time.Second,
		backoffMax:  30 * time.Second,
		ctx:         ctx,
		cancel:      cancel,
		done:        make(chan struct{}),
	}
	if cfg.Overrides.JWKSURI != "" {
		p.setPinHost(cfg.Overrides.JWKSURI)
	}
	return p, nil
}

// Issuer returns the configured issuer. Discovery accepts only a document
// whose issuer is identical to it, or (for a configured issuer with a
// trailing "/") the same without that "/"; StatedIssuer gives the `iss`
// that tokens carry.
func (p *Provider) Issuer() string { return p.cfg.Issuer }

// StatedIssuer returns the issuer as the loaded discovery document states
// it, or "" before discovery has loaded. Tokens' `iss` must equal it.
func (p *Provider) StatedIssuer() string {
	if m := p.meta.Load(); m != nil {
		return m.Issuer
	}
	return ""
}

// TokenIssuer returns the `iss` tokens must carry: the stated issuer once
// discovery has loaded, else the configured one.
func (p *Provider) TokenIssuer() string {
	if s := p.StatedIssuer(); s != "" {
		return s
	}
	return p.cfg.Issuer
}

// HTTPClient returns the client configured for this provider (tls_ca,
// timeouts, no redirects, thumbprint pinning for the JWKS host). Other
// packages use it for the token, userinfo and introspection endpoints.
func (p *Provider) HTTPClient() *http.Client { return p.client }

// Metadata returns the provider's endpoints: the discovery document with the
// configured overrides applied. Before discovery succeeds it returns the
// overrides alone when they name jwks_uri and an authorization or token
// endpoint; otherwise false. The returned value must not be modified.
func (p *Provider) Metadata() (*Metadata, bool) {
	if m := p.meta.Load(); m != nil {
		return m, true
	}
	o := p.cfg.Overrides
	if o.JWKSURI != "" && (o.AuthorizationEndpoint != "" || o.TokenEndpoint != "") {
		o.Issuer = p.cfg.Issuer
		return &o, true
	}
	return nil, false
}

// Start begins loading discovery and keys in one background goroutine,
// retrying with capped exponential backoff until they load, then refreshing
// the keys on their lifetime. Calling it again (or after Destruct) does
// nothing.
func (p *Provider) Start() {
	p.lifeMu.Lock()
	defer p.lifeMu.Unlock()
	if p.started || p.stopped {
		return
	}
	p.started = true
	go p.run()
}

// Destruct stops the background goroutine and waits for it to end. It
// satisfies caddy.Destructor, so a Provider can live in a caddy.UsagePool.
func (p *Provider) Destruct() error {
	p.lifeMu.Lock()
	started := p.started
	p.stopped = true
	p.lifeMu.Unlock()
	p.cancel()
	if started {
		<-p.done
	}
	p.router.closeIdle()
	return nil
}

func (p *Provider) run() {
	defer close(p.done)
	attempt := 0
	for {
		wait, ok := p.cycle()
		if ok {
			attempt = 0
		} else {
			wait = p.backoff(attempt)
			attempt++
		}
		t := time.NewTimer(wait)
		select {
		case <-p.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// backoff returns the delay before retry number attempt: exponential from
// backoffMin, capped at backoffMax, with jitter in [d/2, d).
func (p *Provider) backoff(attempt int) time.Duration {
	d := p.backoffMin
	for i := 0; i < attempt && d < p.backoffMax; i++ {
		d *= 2
	}
	d = min(d, p.backoffMax)
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + rand.N(half)
}

// cycle loads what is missing or due. It returns how long to wait before
// the next cycle, and false when something failed (the caller then backs
// off instead).
func (p *Provider) cycle() (time.Duration, bool) {
	var metaErr error
	if p.meta.Load() == nil {
		if metaErr = p.loadDiscovery(p.ctx); metaErr != nil {
			if p.ctx.Err() != nil {
				return 0, false
			}
			p.logger.Warn("OpenID discovery failed; will retry", zap.Error(metaErr))
		}
	}
	if p.jwksURI() == "" {
		return 0, false
	}
	p.mu.Lock()
	due := !time.Now().Before(p.nextFetch)
	p.mu.Unlock()
	if hadKeys := p.keys.Load() != nil; !hadKeys || due {
		if err := p.fetchKeys(p.ctx); err != nil {
			if p.ctx.Err() != nil {
				return 0, false
			}
			if hadKeys {
				p.logger.Warn("JWKS refresh failed; keeping the previous keys", zap.Error(err))
			} else {
				p.logger.Error("JWKS could not be loaded; bearer tokens fail until it loads", zap.Error(err))
			}
			return 0, false
		}
	}
	if metaErr != nil {
		return 0, false
	}
	p.mu.Lock()
	wait := time.Until(p.nextFetch)
	p.mu.Unlock()
	return max(wait, 0), true
}

func (p *Provider) jwksURI() string {
	if p.cfg.Overrides.JWKSURI != "" {
		return p.cfg.Overrides.JWKSURI
	}
	if m := p.meta.Load(); m != nil {
		return m.JWKSURI
	}
	return ""
}

func (p *Provider) setPinHost(jwksURI string) {
	u, err := url.Parse(jwksURI)
	if err != nil {
		return
	}
	h := canonicalHost(u.Scheme, u.Host)
	p.router.pinHost.Store(&h)
}

// Status is a snapshot of a provider's health, for logs and admin endpoints.
type Status struct {
	// MetadataLoaded reports whether Metadata would return true.
	MetadataLoaded bool
	// KeysLoaded is the number of usable signing keys.
	KeysLoaded int
	// LastRefresh is when the keys were last fetched successfully.
	LastRefresh time.Time
	// LastError describes the last failure (empty after a success). It
	// never holds a token or secret.
	LastError string
	// JWKSFetches counts the JWKS requests made.
	JWKSFetches int64
	// KeyAge is the time since LastRefresh (zero when never loaded).
	KeyAge time.Duration
}

// Status returns the provider's current state.
func (p *Provider) Status() Status {
	_, metaOK := p.Metadata()
	p.mu.Lock()
	s := Status{
		MetadataLoaded: metaOK,
		LastRefresh:    p.lastRefresh,
		LastError:      p.lastError,
	}
	p.mu.Unlock()
	if ks := p.keys.Load(); ks != nil {
		s.KeysLoaded = len(ks.all)
	}
	s.JWKSFetches = p.jwksFetches.Load()
	if !s.LastRefresh.IsZero() {
		s.KeyAge = p.now().Sub(s.LastRefresh)
	}
	return s
}

func (p *Provider) recordError(err error) {
	msg := err.Error()
	if len(msg) > 512 {
		msg = msg[:512] + "…"
	}
	p.mu.Lock()
	p.lastError = msg
	p.mu.Unlock()
}
