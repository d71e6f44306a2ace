package login

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// AuthParams are the parameters of an authorization request.
type AuthParams struct {
	ClientID    string
	RedirectURI string
	Scopes      []string
	State       string
	Nonce       string
	// CodeChallenge is the S256 PKCE challenge (see S256Challenge).
	CodeChallenge string
	// Extra are further parameters such as access_type=offline (Alibaba) or
	// prompt. They cannot replace the parameters above.
	Extra map[string]string
}

// reservedAuthParams may only be set by AuthorizeURL itself.
var reservedAuthParams = map[string]bool{
	"client_id": true, "redirect_uri": true, "response_type": true, "scope": true,
	"state": true, "nonce": true, "code_challenge": true, "code_challenge_method": true,
}

// AuthorizeURL builds the authorization-code request URL (response_type=code,
// PKCE S256), keeping any query the endpoint already has.
func AuthorizeURL(endpoint string, p AuthParams) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("login: authorization endpoint %q is not an absolute http(s) URL", endpoint)
	}
	if p.ClientID == "" || p.RedirectURI == "" || p.State == "" || p.CodeChallenge == "" {
		return "", errors.New("login: authorization request needs client_id, redirect_uri, state and a PKCE challenge")
	}
	u.Fragment, u.RawFragment = "", ""
	q := u.Query()
	for k, v := range p.Extra {
		if reservedAuthParams[k] {
			return "", fmt.Errorf("login: extra authorization parameter %q would replace a parameter the flow sets itself; remove it", k)
		}
		q.Set(k, v)
	}
	q.Set("client_id", p.ClientID)
	q.Set("redirect_uri", p.RedirectURI)
	q.Set("response_type", "code")
	if len(p.Scopes) > 0 {
		q.Set("scope", strings.Join(p.Scopes, " "))
	}
	q.Set("state", p.State)
	if p.Nonce != "" {
		q.Set("nonce", p.Nonce)
	}
	q.Set("code_challenge", p.CodeChallenge)
	q.Set("code_challenge_method", "S256")
	u.RawQuery = q.Encode()
	return u.String(), nil
}
