package edgeauth

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/edgeauth/caddy-edgeauth/module/fleet"
	"github.com/edgeauth/caddy-edgeauth/module/login"
	"github.com/edgeauth/caddy-edgeauth/module/session"
	"github.com/edgeauth/caddy-edgeauth/module/sts"
)

// SessionConfig configures browser sessions (the login flow).
type SessionConfig struct {
	// Secrets seal the session cookies: the first seals, every one opens,
	// so a new secret can be put first and the old one kept until the old
	// sessions have expired. Each must be at least 32 bytes; use
	// placeholders such as {env.EDGEAUTH_KEY}. Without any, a random secret
	// is made per process (sessions then end on restart) and a warning is
	// logged.
	Secrets []string `json:"secrets,omitempty"`

	// Lifetime bounds a session from login, whatever refreshes happen.
	// Default: 12h.
	Lifetime caddy.Duration `json:"lifetime,omitempty"`

	// CookieName is the base name of the session cookie; with https it gets
	// the __Host- prefix. Default: edgeauth.
	CookieName string `json:"cookie_name,omitempty"`

	// Store keeps sessions server-side (Redis), for fleets of instances.
	Store *StoreConfig `json:"store,omitempty"`
}

// processSecret is the fallback session secret: one per process, so that a
// config reload does not end every session.
var processSecret = sync.OnceValue(session.RandomSecret)

// sessions holds what the login flows of one config share.
type sessions struct {
	sealer     *session.Sealer
	store      session.Store
	cookieName string
	lifetime   time.Duration
	random     bool // no secret configured: a per-process one is used
	// secret is the first session secret (or the per-process one): the
	// key material of the DPoP server nonces (dpopsetup.go).
	secret []byte

	// With a Redis store: the client (closed at cleanup), the store itself
	// (for back-channel logout), the cross-instance refresh lock and the
	// shared STS credential store.
	redis     *fleet.Client
	fleet     *fleet.Store
	refresh   login.RefreshCoordinator
	sharedSTS sts.SharedStore
}

// provisionSessions builds the sealer and the cookie store from the session
// settings.
func (a *App) provisionSessions() error {
	cfg := a.Session
	if cfg == nil {
		cfg = new(SessionConfig)
	}
	repl := caddy.NewReplacer()
	var secrets [][]byte
	for i, s := range cfg.Secrets {
		v := repl.ReplaceKnown(s, "")
		if len(v) < session.MinSecretLen {
			return secretTooShort(i+1, s, v)
		}
		secrets = append(secrets, []byte(v))
	}
	random := len(secrets) == 0
	if random {
		secrets = [][]byte{processSecret()}
	}
	sealer, err := session.NewSealer(secrets)
	if err != nil {
		return fmt.Errorf("edgeauth: session: %v", err)
	}
	lifetime := time.Duration(cfg.Lifetime)
	switch {
	case lifetime < 0:
		return fmt.Errorf("edgeauth: session lifetime must not be negative")
	case lifetime == 0:
		lifetime = session.DefaultLifetime
	}
	name := cfg.CookieName
	if name == "" {
		name = "edgeauth"
	}
	if err := validateName(name); err != nil {
		return fmt.Errorf("edgeauth: session cookie_name %q: %v", name, err)
	}
	opts := session.CookieOptions{
		Name:       name,
		SecureFunc: isHTTPS,
		SameSite:   http.SameSiteLaxMode,
	}
	a.sessions = &sessions{
		sealer:     sealer,
		store:      session.NewCookieStore(sealer, opts, lifetime),
		cookieName: name,
		lifetime:   lifetime,
		random:     random,
		secret:     secrets[0],
	}
	if cfg.Store != nil && cfg.Store.Redis != nil {
		if random {
			return fmt.Errorf("edgeauth: session store redis: every instance must seal with the same secret; set `secret` in the session block")
		}
		client, store, err := a.provisionRedis(cfg.Store.Redis, sealer, opts, lifetime)
		if err != nil {
			return err
		}
		shared, err := fleet.NewSTSStore(client, sealer)
		if err != nil {
			_ = client.Close()
			return fmt.Errorf("edgeauth: session store redis: %v", err)
		}
		a.sessions.redis, a.sessions.fleet, a.sessions.store = client, store, store
		a.sessions.refresh = fleet.NewRefreshLock(store, fleet.RefreshLockConfig{})
		a.sessions.sharedSTS = shared
	}
	return nil
}

// isHTTPS decides whether cookies get Secure and the __Host- prefix.
func isHTTPS(r *http.Request) bool { return r.TLS != nil }

// envPlaceholder finds {env.NAME} placeholders in a configured value.
var envPlaceholder = regexp.MustCompile(`\{env\.([^{}]+)\}`)

// secretTooShort explains a session secret (number n, configured as raw,
// resolved to v) that is too short, naming the environment variables it
// came from so that an unset one is not reported as "0 bytes". It never
// includes the secret.
func secretTooShort(n int, raw, v string) error {
	var names []string
	for _, m := range envPlaceholder.FindAllStringSubmatch(raw, -1) {
		names = append(names, m[1])
	}
	switch {
	case len(names) > 0 && v == "":
		return fmt.Errorf("edgeauth: session secret %d: the environment variable %s is unset or empty; set it to a random secret of at least %d bytes (e.g. `openssl rand -base64 48`)",
			n, strings.Join(names, ", "), session.MinSecretLen)
	case len(names) > 0:
		return fmt.Errorf("edgeauth: session secret %d (from the environment variable %s): it is %d bytes, at least %d are needed (e.g. `openssl rand -base64 48`)",
			n, strings.Join(names, ", "), len(v), session.MinSecretLen)
	}
	return fmt.Errorf("edgeauth: session secret %d: it is %d bytes, at least %d are needed (e.g. `openssl rand -base64 48`)", n, len(v), session.MinSecretLen)
}
