package login

import (
	"net/url"
	"testing"

	"github.com/edgeauth/caddy-edgeauth/module/clientauth"
	"github.com/edgeauth/caddy-edgeauth/module/oidc"
)

func TestAuthorizeURL(t *testing.T) {
	got, err := AuthorizeURL("https://signin.aliyun.com/oauth2/v1/auth?tenant=t1#frag", AuthParams{
		ClientID: "4000000000000000001", RedirectURI: "https://gw.example.com/oauth2/callback",
		Scopes: []string{"openid", "aliuid", "profile"}, State: "st", Nonce: "no",
		CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		Extra:         map[string]string{"access_type": "offline", "prompt": "login"},
	})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(got)
	q := u.Query()
	want := map[string]string{
		"tenant": "t1", "client_id": "4000000000000000001", "redirect_uri": "https://gw.example.com/oauth2/callback",
		"response_type": "code", "scope": "openid aliuid profile", "state": "st", "nonce": "no",
		"code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256",
		"access_type": "offline", "prompt": "login",
	}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v)
		}
	}
	if u.Host != "signin.aliyun.com" || u.Path != "/oauth2/v1/auth" || u.Fragment != "" {
		t.Errorf("endpoint changed: %s", got)
	}
	if _, err := AuthorizeURL("https://x/auth", AuthParams{ClientID: "c", RedirectURI: "r", State: "s", CodeChallenge: "c",
		Extra: map[string]string{"redirect_uri": "https://evil"}}); err == nil {
		t.Error("extra parameter replaced redirect_uri")
	}
	for _, bad := range []string{"", "/relative", "ftp://x/y", "https://"} {
		if _, err := AuthorizeURL(bad, AuthParams{ClientID: "c", RedirectURI: "r", State: "s", CodeChallenge: "c"}); err == nil {
			t.Errorf("endpoint %q accepted", bad)
		}
	}
	if _, err := AuthorizeURL("https://x/auth", AuthParams{ClientID: "c", RedirectURI: "r", State: "s"}); err == nil {
		t.Error("request without PKCE challenge accepted")
	}
}

func TestChooseAuthMethod(t *testing.T) {
	cases := []struct {
		meta       *oidc.Metadata
		configured string
		want       string
	}{
		{&oidc.Metadata{Issuer: "https://oauth.aliyun.com"}, "", clientauth.SecretPost},
		{&oidc.Metadata{Issuer: "https://oauth.alibabacloud.com"}, "", clientauth.SecretPost},
		{&oidc.Metadata{Issuer: "https://oauth.aliyun.com"}, clientauth.SecretBasic, clientauth.SecretBasic},
		{&oidc.Metadata{Issuer: "https://idp.example.com"}, "", clientauth.SecretBasic},
		{&oidc.Metadata{Issuer: "https://idp.example.com", TokenEndpointAuthMethodsSupported: []string{"client_secret_post"}}, "", clientauth.SecretPost},
		{&oidc.Metadata{Issuer: "https://idp.example.com", TokenEndpointAuthMethodsSupported: []string{"client_secret_post", "client_secret_basic"}}, "", clientauth.SecretBasic},
		{&oidc.Metadata{Issuer: "https://idp.example.com", TokenEndpointAuthMethodsSupported: []string{"private_key_jwt"}}, "", clientauth.SecretBasic},
		{nil, "", clientauth.SecretBasic},
		{nil, clientauth.None, clientauth.None},
	}
	for i, c := range cases {
		if got := ChooseAuthMethod(c.meta, c.configured); got != c.want {
			t.Errorf("case %d: got %q, want %q", i, got, c.want)
		}
	}
}
