package sts

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/edgeauth/caddy-edgeauth/module/clientauth"
	"github.com/edgeauth/caddy-edgeauth/module/logsafe"
)

// RFC 8693 identifiers.
const (
	// GrantTypeTokenExchange is the RFC 8693 grant type.
	GrantTypeTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	// TokenTypeAccessToken is the access-token type URI.
	TokenTypeAccessToken = "urn:ietf:params:oauth:token-type:access_token"
	// TokenTypeIDToken is the ID-token type URI.
	TokenTypeIDToken = "urn:ietf:params:oauth:token-type:id_token"
	// TokenTypeJWT is the JWT type URI (RFC 7519).
	TokenTypeJWT = "urn:ietf:params:oauth:token-type:jwt"
)

// TokenExchangeConfig configures the RFC 8693 client.
type TokenExchangeConfig struct {
	// TokenEndpoint is the authorization server's token endpoint (https; http
	// only for loopback hosts).
	TokenEndpoint string
	// ClientID and ClientSecret authenticate the gateway. Without a secret the
	// client ID goes in the body (public client).
	ClientID, ClientSecret string
	// AuthMethod is clientauth.SecretBasic (default) or
	// clientauth.SecretPost.
	AuthMethod string
	// SubjectTokenType describes the caller's token. Default: access_token.
	SubjectTokenType string
	// RequestedTokenType is sent when set.
	RequestedTokenType string
	// Audience values are sent as repeated `audience` (Request.Audience
	// replaces them when set).
	Audience []string
	// Resource values are sent as repeated `resource` (absolute URIs).
	Resource []string
	// Scope is the default scope (Request.Scope replaces it when set).
	Scope string
	// DefaultLifetime applies when the answer has no expires_in and the
	// issued token is not a JWT with `exp`. Default 5 minutes.
	DefaultLifetime time.Duration
	// Transport is how requests are sent.
	Transport
}

// TokenExchange is an RFC 8693 client. The issued token is returned in
// Credentials.SecurityToken; AccessKeyID and AccessKeySecret stay empty.
type TokenExchange struct {
	cfg      TokenExchangeConfig
	endpoint *url.URL
	caller
}

// NewTokenExchange checks the config and returns a client. It does no
// network I/O.
func NewTokenExchange(cfg TokenExchangeConfig) (*TokenExchange, error) {
	u, err := parseEndpoint(cfg.TokenEndpoint, "token_endpoint")
	if err != nil {
		return nil, fmt.Errorf("sts token exchange: %w", err)
	}
	if err := checkSecretMethod(cfg.AuthMethod); err != nil {
		return nil, fmt.Errorf("sts token exchange: %w", err)
	}
	if cfg.ClientSecret != "" && cfg.ClientID == "" {
		return nil, fmt.Errorf("sts token exchange: client_secret is set without client_id; set client_id")
	}
	if cfg.SubjectTokenType == "" {
		cfg.SubjectTokenType = TokenTypeAccessToken
	}
	for _, r := range cfg.Resource {
		if ru, err := url.Parse(r); err != nil || !ru.IsAbs() || ru.Fragment != "" {
			return nil, fmt.Errorf("sts token exchange: resource %q must be an absolute URI without a fragment", r)
		}
	}
	if cfg.DefaultLifetime <= 0 {
		cfg.DefaultLifetime = 5 * time.Minute
	}
	return &TokenExchange{cfg: cfg, endpoint: u, caller: newCaller(cfg.Transport)}, nil
}

// ValidateRole accepts any role that is not blank: RFC 8693 has no role,
// so it only names the credentials (the cache key holds it).
func (t *TokenExchange) ValidateRole(arn string) error {
	if strings.TrimSpace(arn) == "" {
		return fmt.Errorf("role_arn is empty; give the role to assume, or leave role_arn out")
	}
	return nil
}

// NeedsRole is false: the token endpoint is asked for an audience or
// scope, not a role.
func (t *TokenExchange) NeedsRole() bool { return false }

// Exchange performs the token exchange.
func (t *TokenExchange) Exchange(ctx context.Context, req Request) (*Credentials, error) {
	if e := checkToken(req.Token); e != nil {
		return nil, e
	}
	form := url.Values{}
	form.Set("grant_type", GrantTypeTokenExchange)
	form.Set("subject_token", req.Token)
	form.Set("subject_token_type", t.cfg.SubjectTokenType)
	if t.cfg.RequestedTokenType != "" {
		form.Set("requested_token_type", t.cfg.RequestedTokenType)
	}
	if req.Audience != "" {
		form.Set("audience", req.Audience)
	} else {
		for _, a := range t.cfg.Audience {
			form.Add("audience", a)
		}
	}
	for _, r := range t.cfg.Resource {
		form.Add("resource", r)
	}
	if scope := firstNonEmpty(req.Scope, t.cfg.Scope); scope != "" {
		form.Set("scope", scope)
	}
	client := clientauth.Client{ID: t.cfg.ClientID, Secret: t.cfg.ClientSecret, Method: t.cfg.AuthMethod}
	return t.run(ctx, func(ctx context.Context) (*Credentials, *Error) {
		hr, err := client.NewRequest(ctx, t.endpoint.String(), form)
		if err != nil {
			return nil, &Error{Kind: Misconfigured, Code: CodeBadRequest, Message: "cannot build the token request: " + err.Error()}
		}
		resp, e := t.send(ctx, hr)
		if e != nil {
			return nil, e
		}
		return t.parse(resp, req.Token)
	})
}

// tokenResponse is the RFC 8693 §2.2.1 answer.
type tokenResponse struct {
	AccessToken     string          `json:"access_token"`
	IssuedTokenType string          `json:"issued_token_type"`
	TokenType       string          `json:"token_type"`
	ExpiresIn       json.RawMessage `json:"expires_in"`
	Scope           string          `json:"scope"`
}

// oauthError is the RFC 6749 §5.2 error body.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func (t *TokenExchange) parse(resp *response, token string) (*Credentials, *Error) {
	now := t.now()
	if resp.status == http.StatusOK {
		var tr tokenResponse
		if err := json.Unmarshal(resp.body, &tr); err != nil || tr.AccessToken == "" {
			return nil, &Error{Kind: Unavailable, Code: CodeBadResponse, HTTPStatus: resp.status,
				Message: "the token endpoint answered 200 without an access_token"}
		}
		exp, ok := expiresIn(tr.ExpiresIn, now)
		if !ok {
			exp = jwtExpiry(tr.AccessToken)
		}
		if exp.IsZero() {
			exp = now.Add(t.cfg.DefaultLifetime)
		}
		return &Credentials{SecurityToken: tr.AccessToken, Expiration: exp}, nil
	}
	var oe oauthError
	parsed := json.Unmarshal(resp.body, &oe) == nil && oe.Error != ""
	// The gateway's client secret is redacted as well as the caller's token:
	// a server may echo either. The code is the server's text too: it is
	// logged and put in the caller's error body.
	e := &Error{HTTPStatus: resp.status, Code: logsafe.Message(oe.Error, t.cfg.ClientSecret),
		Message: logsafe.Message(oe.Description, token, t.cfg.ClientSecret)}
	if !parsed {
		e.Code = CodeBadResponse
		e.Message = fmt.Sprintf("the token endpoint answered HTTP %d with an unreadable error body", resp.status)
	}
	switch {
	case resp.status >= 500 || resp.status == http.StatusTooManyRequests ||
		e.Code == "temporarily_unavailable" || e.Code == "server_error" || e.Code == "slow_down":
		e.Kind = Unavailable
		e.RetryAfter = parseRetryAfter(resp.header, now)
	case e.Code == "invalid_grant":
		e.Kind = InvalidToken
	case e.Code == "unauthorized_client" || e.Code == "invalid_target" || e.Code == "invalid_scope" || e.Code == "access_denied":
		e.Kind = Forbidden
	default: // invalid_client, invalid_request, unsupported_grant_type, unreadable 4xx …
		e.Kind = Misconfigured
	}
	return nil, e
}

// expiresIn reads expires_in as a JSON number or a numeric string.
func expiresIn(raw json.RawMessage, now time.Time) (time.Time, bool) {
	s := strings.Trim(strings.TrimSpace(string(raw)), `"`)
	if s == "" || s == "null" {
		return time.Time{}, false
	}
	secs, err := strconv.ParseFloat(s, 64)
	if err != nil || secs <= 0 {
		return time.Time{}, false
	}
	return now.Add(time.Duration(secs * float64(time.Second))), true
}

// jwtExpiry reads `exp` from a JWT WITHOUT verifying it. This is only a
// lifetime hint for caching: the token came from the trusted token endpoint
// over TLS, and whoever consumes it verifies it. Zero when unreadable.
func jwtExpiry(tok string) time.Time {
	if strings.Count(tok, ".") != 2 {
		return time.Time{}
	}
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(tok, claims); err != nil {
		return time.Time{}
	}
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return time.Time{}
	}
	return exp.Time
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

var _ Exchanger = (*TokenExchange)(nil)

// checkSecretMethod accepts the client authentication methods that send a
// client secret (the STS clients always hold one or send the client ID in
// the form): client_secret_basic, client_secret_post, or empty for basic.
func checkSecretMethod(m string) error {
	switch m {
	case "", clientauth.SecretBasic, clientauth.SecretPost:
		return nil
	}
	return fmt.Errorf("auth method %q is not supported; use %s or %s", m, clientauth.SecretBasic, clientauth.SecretPost)
}
