package login

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"

	"github.com/edgeauth/caddy-edgeauth/module/clientauth"
	"github.com/edgeauth/caddy-edgeauth/module/identity"
	"github.com/edgeauth/caddy-edgeauth/module/oidc"
	"github.com/edgeauth/caddy-edgeauth/module/session"
)

// ProviderInfo is what the flow needs from an OpenID provider.
type ProviderInfo interface {
	// Name is the configured provider name, recorded in sessions.
	Name() string
	// Metadata is the discovery document (with overrides); false until it
	// has loaded.
	Metadata() (*oidc.Metadata, bool)
	// HTTPClient reaches the provider's endpoints with its TLS settings.
	HTTPClient() *http.Client
}

// UserinfoSource is implemented by providers whose userinfo endpoint the
// flow may ask, at login, for claims the ID token lacks. It answers the
// claims for an access token (numbers as json.Number), or an error when the
// provider has no userinfo endpoint or refuses.
type UserinfoSource interface {
	Userinfo(ctx context.Context, accessToken string) (map[string]any, error)
}

// IDTokenVerifier verifies an ID token's signature, iss, aud, exp and iat and
// returns the identity it proves (Claims with numbers as json.Number,
// Expiry from exp). The flow itself checks nonce, aud/azp against the
// client ID, and sub on refresh.
type IDTokenVerifier interface {
	Verify(ctx context.Context, raw string) (*identity.Identity, error)
}

// FlowConfig configures a Flow.
type FlowConfig struct {
	// Prefix is where the endpoints live (default "/oauth2/").
	Prefix string
	// RedirectURL is a fixed callback URL; when empty it is built from the
	// request's scheme (TLS or not) and Host, plus Prefix + "callback".
	// X-Forwarded-* headers are never used.
	RedirectURL string
	// ClientID and ClientSecret identify the client at the provider.
	ClientID, ClientSecret string
	// AuthMethod is the token endpoint auth method; empty means
	// ChooseAuthMethod's rule ("none" when there is no secret).
	AuthMethod string
	// Scopes are requested on every login; "openid" is required.
	Scopes []string
	// ExtraAuthParams are added to the authorization request. For Alibaba
	// issuers access_type=offline is added unless set here.
	ExtraAuthParams map[string]string
	// PostLogoutRedirectURI is sent to the end_session_endpoint.
	PostLogoutRedirectURI string
	// LogoutIDTokenHint sends the session's ID token as id_token_hint to
	// the end_session_endpoint. Off by default: the logout URL then names
	// the client with client_id alone, because a URL ends up in browser
	// history and access logs and the ID token may be a working bearer
	// credential. Turn it on only where ID tokens are not accepted as
	// bearer tokens (the module refuses it otherwise).
	LogoutIDTokenHint bool
	// Provider supplies metadata and the HTTP client.
	Provider ProviderInfo
	// IDTokens verifies ID tokens from the token endpoint.
	IDTokens IDTokenVerifier
	// Store keeps sessions; Sealer seals pending-login cookies.
	Store  session.Store
	Sealer *session.Sealer
	// CookieName is the base name of the pending-login cookies, which are
	// "<CookieName>_login_<8 hex>" (with __Host- when Secure). Default
	// "edgeauth".
	CookieName string
	// Secure decides whether cookies are Secure (default: r.TLS != nil).
	Secure func(r *http.Request) bool
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives no tokens or secrets. Default: a no-op logger.
	Logger *zap.Logger
	// SessionLifetime bounds a session from login (default 12h).
	SessionLifetime time.Duration
	// RefreshMargin: a session expiring within it is refreshed (default
	// 60s; at most half the tokens' lifetime).
	RefreshMargin time.Duration
	// LoginTimeout is how long a started login may take (default 10m).
	LoginTimeout time.Duration
	// MaxPendingLogins caps concurrent logins per browser (default 5).
	MaxPendingLogins int
	// AllowMissingNonce accepts an ID token without a nonce claim (a nonce
	// that is present must still match). Only for providers that do not
	// echo nonce; PKCE still binds the code to this browser.
	AllowMissingNonce bool
	// OnRefresh, when set, is told the outcome of every call to the token
	// endpoint that refreshes a session (for metrics).
	OnRefresh func(ok bool)
	// RefreshCoordinator, when set, coordinates refreshes across instances
	// sharing a server-side store (a fleet): see RefreshCoordinator. Nil
	// (the default) refreshes within this process only.
	RefreshCoordinator RefreshCoordinator
}

// Flow serves the login endpoints and keeps sessions fresh.
type Flow struct {
	cfg     FlowConfig
	log     *zap.Logger
	pending *pendingCookies
	flight  singleflight.Group
	recent  *refreshCache
}

// ErrLoginRequired means the session existed but could not be refreshed;
// it has been cleared. Browsers should be sent to login again; API callers
// get 401.
var ErrLoginRequired = errors.New("login: session could not be refreshed; log in again")

// NewFlow checks cfg, fills in defaults and returns a Flow.
func NewFlow(cfg FlowConfig) (*Flow, error) {
	if cfg.Prefix == "" {
		cfg.Prefix = "/oauth2/"
	}
	if !strings.HasPrefix(cfg.Prefix, "/") {
		return nil, fmt.Errorf("login: prefix %q must start with /", cfg.Prefix)
	}
	if !strings.HasSuffix(cfg.Prefix, "/") {
		cfg.Prefix += "/"
	}
	switch {
	case cfg.ClientID == "":
		return nil, errors.New("login: client_id is required for the login flow")
	case cfg.Provider == nil:
		return nil, errors.New("login: a provider is required for the login flow")
	case cfg.IDTokens == nil:
		return nil, errors.New("login: an ID token verifier is required for the login flow")
	case cfg.Store == nil || cfg.Sealer == nil:
		return nil, errors.New("login: a session store and a sealer are required for the login flow")
	}
	if !slices.Contains(cfg.Scopes, "openid") {
		return nil, fmt.Errorf("login: scopes %q lack \"openid\"; the login flow needs an ID token, add openid to scopes", strings.Join(cfg.Scopes, " "))
	}
	if cfg.RedirectURL != "" {
		u, err := url.Parse(cfg.RedirectURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" {
			return nil, fmt.Errorf("login: redirect URL %q must be an absolute http(s) URL without fragment", cfg.RedirectURL)
		}
	}
	if err := clientauth.Check(cfg.AuthMethod); err != nil {
		return nil, fmt.Errorf("login: token endpoint: %w", err)
	}
	if cfg.AuthMethod != "" && cfg.AuthMethod != clientauth.None && cfg.ClientSecret == "" {
		return nil, fmt.Errorf("login: auth method %s needs a client_secret", cfg.AuthMethod)
	}
	for k := range cfg.ExtraAuthParams {
		if reservedAuthParams[k] {
			return nil, fmt.Errorf("login: extra authorization parameter %q is set by the flow itself; remove it", k)
		}
	}
	if cfg.CookieName == "" {
		cfg.CookieName = "edgeauth"
	}
	if cfg.Secure == nil {
		cfg.Secure = func(r *http.Request) bool { return r.TLS != nil }
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.SessionLifetime <= 0 {
		cfg.SessionLifetime = session.DefaultLifetime
	}
	if cfg.RefreshMargin <= 0 {
		cfg.RefreshMargin = 60 * time.Second
	}
	if cfg.LoginTimeout <= 0 {
		cfg.LoginTimeout = 10 * time.Minute
	}
	if cfg.MaxPendingLogins <= 0 {
		cfg.MaxPendingLogins = 5
	}
	return &Flow{
		cfg: cfg,
		log: cfg.Logger,
		pending: &pendingCookies{
			sealer: cfg.Sealer,
			base:   cfg.CookieName + "_login_",
			ttl:    cfg.LoginTimeout,
			max:    cfg.MaxPendingLogins,
			secure: cfg.Secure,
		},
		recent: newRefreshCache(2*time.Minute, 10000),
	}, nil
}

// Prefix is the endpoints' path prefix (with a trailing slash).
func (f *Flow) Prefix() string { return f.cfg.Prefix }

// Owns reports whether r is for one of the flow's endpoints (its path is
// under Prefix).
func (f *Flow) Owns(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, f.cfg.Prefix) || r.URL.Path+"/" == f.cfg.Prefix
}

// ServeHTTP serves start, callback, logout and userinfo under Prefix; other
// paths under Prefix get 404.
func (f *Flow) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch strings.TrimPrefix(r.URL.Path, f.cfg.Prefix) {
	case "start":
		if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
			return
		}
		rd, _ := SafeReturnPath(r.URL.Query().Get("rd"))
		f.StartLogin(w, r, rd, nil)
	case "callback":
		if !allowMethods(w, r, http.MethodGet) {
			return
		}
		f.callback(w, r)
	case "logout":
		if !allowMethods(w, r, http.MethodGet, http.MethodHead, http.MethodPost) {
			return
		}
		f.logout(w, r)
	case "userinfo":
		if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
			return
		}
		f.userinfo(w, r)
	default:
		errorPage(w, http.StatusNotFound, "Not found", "There is no login endpoint at this address.", "")
	}
}

func allowMethods(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	if slices.Contains(methods, r.Method) {
		return true
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	errorPage(w, http.StatusMethodNotAllowed, "Method not allowed", "This login endpoint does not accept "+r.Method+" requests.", "")
	return false
}

// redirectURI is the callback URL for r.
func (f *Flow) redirectURI(r *http.Request) string {
	if f.cfg.RedirectURL != "" {
		return f.cfg.RedirectURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + f.cfg.Prefix + "callback"
}

// tokenClient returns a client for the provider's current metadata.
func (f *Flow) tokenClient(meta *oidc.Metadata) *TokenClient {
	method := f.cfg.AuthMethod
	if method == "" && f.cfg.ClientSecret == "" {
		method = clientauth.None
	}
	return &TokenClient{
		ClientID:     f.cfg.ClientID,
		ClientSecret: f.cfg.ClientSecret,
		AuthMethod:   ChooseAuthMethod(meta, method),
		HTTPClient:   f.cfg.Provider.HTTPClient(),
		Now:          f.cfg.Now,
	}
}

// IsOwnCookie reports whether a cookie is one of the plugin's (session
// chunks when the store can tell, pending logins, the logout confirm
// page's, the signed-out marks), so that the handler can remove it before proxying.
func (f *Flow) IsOwnCookie(name string) bool {
	if f.pending.isPending(name) || f.isAuxCookie(name, logoutCookieSuffix) || f.isAuxCookie(name, signedOutCookieSuffix) {
		return true
	}
	if s, ok := f.cfg.Store.(interface{ IsSessionCookie(string) bool }); ok {
		return s.IsSessionCookie(name)
	}
	return false
}

// StripOwnCookies removes the plugin's cookies from the request's Cookie
// headers, leaving every other cookie byte for byte.
func (f *Flow) StripOwnCookies(h http.Header) {
	lines := h.Values("Cookie")
	if len(lines) == 0 {
		return
	}
	var kept []string
	for _, line := range lines {
		for part := range strings.SplitSeq(line, ";") {
			p := strings.TrimSpace(part)
			if p == "" {
				continue
			}
			name, _, _ := strings.Cut(p, "=")
			if !f.IsOwnCookie(strings.TrimSpace(name)) {
				kept = append(kept, p)
			}
		}
	}
	h.Del("Cookie")
	if len(kept) > 0 {
		h.Set("Cookie", strings.Join(kept, "; "))
	}
}
