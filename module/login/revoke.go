package login

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"go.uber.org/zap"

	"github.com/edgeauth/caddy-edgeauth/module/logsafe"
	"github.com/edgeauth/caddy-edgeauth/module/session"
)

// revokeTimeout bounds the revocation that a logout starts. The logout does
// not wait for it.
const revokeTimeout = 5 * time.Second

// maxRevokeResponse caps how much of a revocation response is read.
const maxRevokeResponse = 64 << 10

// Revoke asks the provider to revoke token (RFC 7009 §2.1), authenticated
// like the token endpoint. hint is "refresh_token", "access_token" or "".
// Any 200 is success (RFC 7009 §2.2; Alibaba's body is undocumented). An
// OAuth error comes back as *OAuthError, anything else (unreachable, 5xx,
// 503 with an OAuth body too) wraps ErrTokenEndpointUnavailable. Errors
// never hold the token or the client secret.
func (c *TokenClient) Revoke(ctx context.Context, endpoint, token, hint string) error {
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	resp, err := c.send(ctx, endpoint, form)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxRevokeResponse))
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	var oe struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	if resp.StatusCode < 500 && json.Unmarshal(raw, &oe) == nil && oe.Error != "" {
		return &OAuthError{
			Code:        safeCode(oe.Error),
			Description: logsafe.Message(oe.ErrorDescription, token, c.ClientSecret),
			Status:      resp.StatusCode,
		}
	}
	return fmt.Errorf("%w: revocation answered HTTP %d", ErrTokenEndpointUnavailable, resp.StatusCode)
}

// revokeAtLogout revokes the ended session's refresh token (or, without
// one, its access token) at the provider's revocation_endpoint, when the
// provider has one. It runs in the background with revokeTimeout: the user
// is logged out locally whatever the provider answers, and a failure is
// only logged (without the token).
//
// Revoking the refresh token kills every copy of the session cookie at its
// next refresh, including one taken before the logout; a copy stays usable
// until its access token is due for refresh. The endpoint must be an
// absolute https URL, or http only when the token endpoint is http too: the
// refresh token never travels less protected than it does for a refresh.
func (f *Flow) revokeAtLogout(s *session.Session) {
	if s == nil || s.Provider != f.cfg.Provider.Name() {
		return
	}
	token, hint := s.RefreshToken, "refresh_token"
	if token == "" {
		token, hint = s.AccessToken, "access_token"
	}
	if token == "" {
		return
	}
	meta, ok := f.cfg.Provider.Metadata()
	if !ok || meta.RevocationEndpoint == "" {
		return
	}
	endpoint := meta.RevocationEndpoint
	if !revocableOver(endpoint, meta.TokenEndpoint) {
		f.log.Warn("logout: revocation_endpoint is not an absolute https URL (http only with an http token endpoint); the token is not revoked")
		return
	}
	tc := f.tokenClient(meta)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), revokeTimeout)
		defer cancel()
		if err := tc.Revoke(ctx, endpoint, token, hint); err != nil {
			f.log.Warn("logout: the provider did not confirm the token revocation; a copy of the session cookie may stay usable",
				zap.String("token_type_hint", hint), zap.Error(err))
		}
	}()
}

// revocableOver reports whether the token may be sent to endpoint: an
// absolute https URL, or an http one when the token endpoint is http too.
func revocableOver(endpoint, tokenEndpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || u.User != nil {
		return false
	}
	if u.Scheme == "https" {
		return true
	}
	t, err := url.Parse(tokenEndpoint)
	return err == nil && u.Scheme == "http" && t.Scheme == "http"
}
