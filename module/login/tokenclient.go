package login

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/clientauth"
	"github.com/edgeauth/caddy-edgeauth/module/logsafe"
)

// MaxTokenResponseSize caps how much of a token endpoint response is read.
const MaxTokenResponseSize = 1 << 20

// ErrTokenEndpointUnavailable means the token endpoint could not be reached
// or answered with something other than an OAuth response (5xx, non-JSON,
// oversize). Map it to 503; retrying later may help.
var ErrTokenEndpointUnavailable = errors.New("login: token endpoint unavailable")

// OAuthError is an error response from the token endpoint (RFC 6749 §5.2).
// Code and Description are sanitized: control characters are dropped, the
// length is bounded, and anything the client sent (code, verifier, tokens,
// secret) is redacted from the description.
type OAuthError struct {
	// Code is the OAuth error code, e.g. "invalid_grant".
	Code string
	// Description is the provider's error_description, if any.
	Description string
	// Status is the HTTP status of the response.
	Status int
}

// Error implements error.
func (e *OAuthError) Error() string {
	if e.Description != "" {
		return fmt.Sprintf("identity provider refused the token request: %s (%s)", e.Code, e.Description)
	}
	return "identity provider refused the token request: " + e.Code
}

// TokenResponse is a successful token endpoint response.
type TokenResponse struct {
	AccessToken  string
	TokenType    string
	RefreshToken string
	IDToken      string
	Scope        string
	// ExpiresIn is the access token's lifetime in seconds (0: not given).
	ExpiresIn int64
	// Expiry is the receipt time plus ExpiresIn (zero when not given).
	Expiry time.Time
}

// TokenClient talks to a token endpoint for one client.
type TokenClient struct {
	ClientID     string
	ClientSecret string
	// AuthMethod is client_secret_basic, client_secret_post or none
	// (default: client_secret_basic with a secret, none without).
	AuthMethod string
	// HTTPClient defaults to a client with a 10 s timeout.
	HTTPClient *http.Client
	// Now is the clock used for Expiry (time.Now when nil).
	Now func() time.Time
}

var defaultHTTPClient = &http.Client{Timeout: 10 * time.Second}

// Exchange redeems an authorization code (RFC 6749 §4.1.3, RFC 7636 §4.5).
func (c *TokenClient) Exchange(ctx context.Context, tokenEndpoint, code, redirectURI, verifier string) (*TokenResponse, error) {
	form := url.Values{
		"grant_type":   {"authorization_code"},
		"code":         {code},
		"redirect_uri": {redirectURI},
	}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	return c.post(ctx, tokenEndpoint, form, code, verifier)
}

// Refresh uses a refresh token (RFC 6749 §6). scopes may be nil to keep the
// original grant.
func (c *TokenClient) Refresh(ctx context.Context, tokenEndpoint, refreshToken string, scopes []string) (*TokenResponse, error) {
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {refreshToken},
	}
	if len(scopes) > 0 {
		form.Set("scope", strings.Join(scopes, " "))
	}
	return c.post(ctx, tokenEndpoint, form, refreshToken)
}

// send posts form to endpoint with the client's authentication (RFC 6749
// §2.3.1), as the token endpoint wants it; the revocation endpoint (RFC 7009
// §2.1) wants the same. Errors never hold the form.
func (c *TokenClient) send(ctx context.Context, endpoint string, form url.Values) (*http.Response, error) {
	client := clientauth.Client{ID: c.ClientID, Secret: c.ClientSecret, Method: c.AuthMethod}
	req, err := client.NewRequest(ctx, endpoint, form)
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = defaultHTTPClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		// The url.Error holds the endpoint only; the form is in the body.
		return nil, fmt.Errorf("%w: %v", ErrTokenEndpointUnavailable, errors.Unwrap(err))
	}
	return resp, nil
}

func (c *TokenClient) post(ctx context.Context, endpoint string, form url.Values, sent ...string) (*TokenResponse, error) {
	resp, err := c.send(ctx, endpoint, form)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxTokenResponseSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading the response: %v", ErrTokenEndpointUnavailable, err)
	}
	if len(raw) > MaxTokenResponseSize {
		return nil, fmt.Errorf("%w: response larger than %d bytes", ErrTokenEndpointUnavailable, MaxTokenResponseSize)
	}
	secrets := append(sent, c.ClientSecret)

	var tj tokenJSON
	jsonErr := json.Unmarshal(raw, &tj)
	if jsonErr == nil && tj.Error != "" {
		// An OAuth error, whatever the status (some providers answer 200).
		if resp.StatusCode >= 500 {
			return nil, fmt.Errorf("%w: HTTP %d (%s)", ErrTokenEndpointUnavailable, resp.StatusCode, safeCode(tj.Error))
		}
		return nil, &OAuthError{
			Code:        safeCode(tj.Error),
			Description: logsafe.Message(tj.ErrorDescription, secrets...),
			Status:      resp.StatusCode,
		}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: HTTP %d without an OAuth error body", ErrTokenEndpointUnavailable, resp.StatusCode)
	}
	if jsonErr != nil {
		return nil, fmt.Errorf("%w: the response is not valid token JSON", ErrTokenEndpointUnavailable)
	}
	if tj.AccessToken == "" {
		return nil, fmt.Errorf("%w: the response has no access_token", ErrTokenEndpointUnavailable)
	}
	tr := &TokenResponse{
		AccessToken:  tj.AccessToken,
		TokenType:    tj.TokenType,
		RefreshToken: tj.RefreshToken,
		IDToken:      tj.IDToken,
		Scope:        tj.Scope,
		ExpiresIn:    int64(tj.ExpiresIn),
	}
	if tr.ExpiresIn > 0 {
		now := time.Now
		if c.Now != nil {
			now = c.Now
		}
		tr.Expiry = now().Add(time.Duration(tr.ExpiresIn) * time.Second)
	}
	return tr, nil
}

type tokenJSON struct {
	AccessToken      string      `json:"access_token"`
	TokenType        string      `json:"token_type"`
	RefreshToken     string      `json:"refresh_token"`
	IDToken          string      `json:"id_token"`
	Scope            string      `json:"scope"`
	ExpiresIn        flexSeconds `json:"expires_in"`
	Error            string      `json:"error"`
	ErrorDescription string      `json:"error_description"`
}

// flexSeconds accepts a JSON number or a numeric string (Alibaba clients
// have seen both). Nonsense values decode as 0 ("not given").
type flexSeconds int64

// UnmarshalJSON implements json.Unmarshaler.
func (f *flexSeconds) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		*f = 0
		return nil
	}
	if uq, err := strconv.Unquote(s); err == nil {
		s = strings.TrimSpace(uq)
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		*f = flexSeconds(max(n, 0))
		return nil
	}
	if x, err := strconv.ParseFloat(s, 64); err == nil && x > 0 && x < 1e12 {
		*f = flexSeconds(int64(x))
		return nil
	}
	*f = 0
	return nil
}

// safeCode keeps an OAuth error code to its RFC 6749 character set and a
// sane length.
func safeCode(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 64 {
			break
		}
		if r >= 0x20 && r <= 0x7e && r != '"' && r != '\\' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "unknown_error"
	}
	return b.String()
}
