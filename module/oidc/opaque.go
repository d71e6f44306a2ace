package oidc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/edgeauth/caddy-edgeauth/module/clientauth"
)

// Errors of the opaque-token checks. ErrTokenRejected means the provider
// said the token is not (or no longer) valid; ErrProviderUnavailable means it
// could not be asked (unreachable, 5xx, endpoint unknown yet, a bad answer).
var (
	ErrTokenRejected       = errors.New("the provider rejected the token")
	ErrProviderUnavailable = errors.New("the provider could not check the token")
)

// maxAnswerSize caps a userinfo or introspection answer.
const maxAnswerSize = 1 << 20

// Userinfo asks the provider's userinfo endpoint who the access token
// belongs to and returns the claims (numbers as json.Number). Alibaba Cloud's
// access tokens are opaque and its discovery has no userinfo_endpoint; set it
// as an override (the aliyun presets do).
func (p *Provider) Userinfo(ctx context.Context, accessToken string) (map[string]any, error) {
	meta, ok := p.Metadata()
	if !ok || meta.UserinfoEndpoint == "" {
		return nil, fmt.Errorf("%w: no userinfo endpoint known yet", ErrProviderUnavailable)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, meta.UserinfoEndpoint, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProviderUnavailable, err)
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/json")
	return p.askJSON(req, "userinfo")
}

// Introspect asks the provider's RFC 7662 introspection endpoint about a
// token, authenticating as the client (HTTP Basic). It returns the answer's
// members when the token is active and ErrTokenRejected when it is not.
func (p *Provider) Introspect(ctx context.Context, tok, clientID, clientSecret string) (map[string]any, error) {
	meta, ok := p.Metadata()
	if !ok || meta.IntrospectionEndpoint == "" {
		return nil, fmt.Errorf("%w: no introspection endpoint known yet", ErrProviderUnavailable)
	}
	form := url.Values{"token": {tok}, "token_type_hint": {"access_token"}}
	client := clientauth.Client{ID: clientID, Secret: clientSecret, Method: clientauth.SecretBasic}
	req, err := client.NewRequest(ctx, meta.IntrospectionEndpoint, form)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProviderUnavailable, err)
	}
	answer, err := p.askJSON(req, "introspection")
	if err != nil {
		return nil, err
	}
	if active, _ := answer["active"].(bool); !active {
		return nil, ErrTokenRejected
	}
	return answer, nil
}

// askJSON sends req with the provider's client and decodes a JSON object.
// Error texts never include the token.
func (p *Provider) askJSON(req *http.Request, what string) (map[string]any, error) {
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %s request failed", ErrProviderUnavailable, what)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, ErrTokenRejected
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%w: %s answered %d", ErrProviderUnavailable, what, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerSize))
	if err != nil {
		return nil, fmt.Errorf("%w: %s answer could not be read", ErrProviderUnavailable, what)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var out map[string]any
	if err := dec.Decode(&out); err != nil || out == nil || hasDuplicateMember(body) {
		return nil, fmt.Errorf("%w: %s answer is not a JSON object with unique members", ErrProviderUnavailable, what)
	}
	return out, nil
}

// hasDuplicateMember reports whether a JSON object (already known to
// decode) names one member twice at its top level. encoding/json keeps the
// last one where other parsers keep the first, so such an answer is refused
// rather than read one way here and another way upstream.
func hasDuplicateMember(object []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(object))
	if _, err := dec.Token(); err != nil { // '{'
		return true
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		name, ok := t.(string)
		if err != nil || !ok || seen[name] {
			return true
		}
		seen[name] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return true
		}
	}
	return false
}
