package edgeauth

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"strings"

	"github.com/edgeauth/caddy-edgeauth/module/clientauth"
	"github.com/edgeauth/caddy-edgeauth/module/fleet"
	"github.com/edgeauth/caddy-edgeauth/module/login"
	"github.com/edgeauth/caddy-edgeauth/module/oidc"
)

// LoginConfig turns on the browser login (OAuth 2.0 authorization-code flow
// with PKCE) for a route, with the first provider named on the directive;
// when the directive names none, the alphabetically first provider of the
// app (a JSON object keeps no order).
type LoginConfig struct {
	// Prefix is where the login endpoints live: <prefix>start, callback,
	// logout and userinfo. Default: /oauth2/.
	Prefix string `json:"prefix,omitempty"`

	// RedirectURL is the callback URL registered at the provider. Default:
	// built from the request's scheme and Host (never from X-Forwarded-*),
	// plus <prefix>callback. Set it when Caddy sits behind another proxy.
	RedirectURL string `json:"redirect_url,omitempty"`

	// PostLogoutRedirectURI is sent to the provider's end_session_endpoint
	// at logout (RP-initiated logout).
	PostLogoutRedirectURI string `json:"post_logout_redirect_uri,omitempty"`

	// AuthMethod is how the client authenticates at the token endpoint:
	// client_secret_basic or client_secret_post. Default: what discovery
	// offers (basic first); client_secret_post for Alibaba Cloud.
	AuthMethod string `json:"auth_method,omitempty"`

	// Params are extra authorization request parameters (e.g. prompt).
	// Alibaba Cloud issuers get access_type=offline unless set here.
	Params map[string]string `json:"params,omitempty"`

	// LogoutIDTokenHint sends the session's ID token as id_token_hint at
	// RP-initiated logout, for providers that need it to end their session
	// without asking. Off by default (the logout URL carries client_id
	// instead): a URL lands in browser history and access logs. Refused at
	// load while the provider accepts its ID tokens as bearer tokens
	// (token_types admits JWT or untyped tokens and audiences holds the
	// client ID), since the URL would then carry a working credential.
	LogoutIDTokenHint bool `json:"logout_id_token_hint,omitempty"`

	// AllowMissingNonce accepts ID tokens without a nonce claim, for
	// providers that do not echo it (PKCE still binds the code to the
	// browser). A nonce that is present must always match.
	AllowMissingNonce bool `json:"allow_missing_nonce,omitempty"`
}

// providerInfo adapts a configured provider to what the login flow needs.
type providerInfo struct{ p *provider }

func (pi providerInfo) Name() string                     { return pi.p.name }
func (pi providerInfo) Metadata() (*oidc.Metadata, bool) { return pi.p.remote.Metadata() }
func (pi providerInfo) HTTPClient() *http.Client         { return pi.p.remote.HTTPClient() }

// provisionLogin builds the route's login flow.
func (h *Handler) provisionLogin() error {
	lc := h.Login
	prefix := lc.Prefix
	if prefix == "" {
		prefix = "/oauth2/"
	}
	if err := checkLoginPrefix(prefix); err != nil {
		return fmt.Errorf("edgeauth: %v", err)
	}
	p := h.bearer.providers[0]
	if p.clientID == "" || p.idTokens == nil {
		return fmt.Errorf("edgeauth: login: provider %s has no client_id; set `client_id` in its provider block", p.name)
	}
	if err := checkAuthMethod(lc.AuthMethod); err != nil {
		return fmt.Errorf("edgeauth: %v", err)
	}
	if lc.LogoutIDTokenHint && p.verifier.AcceptsIDTokens(p.clientID) {
		return fmt.Errorf("edgeauth: login logout_id_token_hint: provider %s accepts its ID tokens as bearer tokens, so the logout URL would carry a working credential; "+
			"refuse them first with `token_types at+jwt` (if the provider types its access tokens) or `audiences <your API>` in the provider block, or remove logout_id_token_hint", p.name)
	}
	scopes := p.config.Scopes
	if len(scopes) == 0 {
		scopes = []string{"openid"}
	}
	sess := h.bearer.app.sessions
	if sess.random {
		h.logger.Warn("no session secret configured: sessions are sealed with a random per-process key and end when Caddy restarts; set `session { secret … }` in the edgeauth global option")
	}
	flow, err := login.NewFlow(login.FlowConfig{
		Prefix:                prefix,
		RedirectURL:           lc.RedirectURL,
		ClientID:              p.clientID,
		ClientSecret:          p.clientSecret,
		AuthMethod:            lc.AuthMethod,
		Scopes:                scopes,
		ExtraAuthParams:       lc.Params,
		PostLogoutRedirectURI: lc.PostLogoutRedirectURI,
		LogoutIDTokenHint:     lc.LogoutIDTokenHint,
		Provider:              providerInfo{p},
		IDTokens:              p.idTokens,
		Store:                 sess.store,
		Sealer:                sess.sealer,
		CookieName:            sess.cookieName,
		Secure:                isHTTPS,
		Logger:                h.logger.Named("login"),
		SessionLifetime:       sess.lifetime,
		AllowMissingNonce:     lc.AllowMissingNonce,
		RefreshCoordinator:    sess.refresh,
		OnRefresh:             h.bearer.app.metrics.SessionRefresh,
	})
	if err != nil {
		return fmt.Errorf("edgeauth: %v", err)
	}
	h.flow = flow
	if sess.fleet != nil {
		bc, err := fleet.NewBackChannel(sess.fleet, fleet.BackChannelConfig{Verifier: p.logoutTokens, Logger: h.logger.Named("backchannel")})
		if err != nil {
			return fmt.Errorf("edgeauth: back-channel logout: %v", err)
		}
		h.backchannel, h.backchannelPath = bc, prefix+"backchannel_logout"
	}
	return nil
}

// checkLoginPrefix refuses a login prefix that is not a path below the root
// starting and ending with /; the Caddyfile parser and Provision both use it.
func checkLoginPrefix(prefix string) error {
	if prefix == "/" || !strings.HasPrefix(prefix, "/") || !strings.HasSuffix(prefix, "/") || strings.ContainsAny(prefix, "*?#{} ") {
		return fmt.Errorf("login prefix %q: must be a path below the root that starts and ends with /, e.g. /oauth2/", prefix)
	}
	return nil
}

// checkAuthMethod refuses a token endpoint auth method the flow cannot use.
func checkAuthMethod(m string) error {
	switch m {
	case "", clientauth.SecretBasic, clientauth.SecretPost:
		return nil
	}
	return fmt.Errorf("login auth_method %q: use client_secret_basic or client_secret_post", m)
}

// forbiddenPage answers a browser whose session lacks what a route needs
// with a short HTML page instead of a JSON error.
func forbiddenPage(w http.ResponseWriter, scopes []string) error {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'")
	w.WriteHeader(http.StatusForbidden)
	need := "this page"
	if len(scopes) > 0 {
		need = "the permission " + strings.Join(scopes, " ")
	}
	_, err := fmt.Fprintf(w, `<!doctype html><html><head><meta charset="utf-8"><title>Access denied</title></head><body><h1>Access denied</h1><p>Your sign-in does not grant %s.</p><p><a href="/">Home</a></p></body></html>`, html.EscapeString(need))
	return err
}

// Userinfo lets the login flow complete the ID token's claims at sign-in.
func (pi providerInfo) Userinfo(ctx context.Context, accessToken string) (map[string]any, error) {
	return pi.p.remote.Userinfo(ctx, accessToken)
}

// Interface guards: the login flow finds the optional ones by assertion,
// so losing one would go unnoticed without these.
var (
	_ login.ProviderInfo   = providerInfo{}
	_ login.UserinfoSource = providerInfo{}
)
