package login

import (
	"net/url"
	"slices"
	"strings"

	"github.com/edgeauth/caddy-edgeauth/module/clientauth"
	"github.com/edgeauth/caddy-edgeauth/module/oidc"
)

// ChooseAuthMethod picks the token endpoint client authentication method.
// The rule:
//  1. a configured method wins;
//  2. when the provider's metadata lists token_endpoint_auth_methods_supported:
//     client_secret_basic if listed, else client_secret_post if listed, else
//     client_secret_basic (the RFC 6749 method every server must support);
//  3. when the list is absent: client_secret_post for Alibaba Cloud issuers
//     (oauth.aliyun.com, oauth.alibabacloud.com), whose documentation only
//     describes the secret in the form body (docs/PROTOCOL.md §1.5); otherwise
//     client_secret_basic, OpenID Connect Discovery's default.
//
// A client without a secret uses "none"; the Flow handles that case.
func ChooseAuthMethod(meta *oidc.Metadata, configured string) string {
	if configured != "" {
		return configured
	}
	if meta == nil {
		return clientauth.SecretBasic
	}
	if methods := meta.TokenEndpointAuthMethodsSupported; len(methods) > 0 {
		switch {
		case slices.Contains(methods, clientauth.SecretBasic):
			return clientauth.SecretBasic
		case slices.Contains(methods, clientauth.SecretPost):
			return clientauth.SecretPost
		}
		return clientauth.SecretBasic
	}
	if IsAlibabaIssuer(meta.Issuer) {
		return clientauth.SecretPost
	}
	return clientauth.SecretBasic
}

// IsAlibabaIssuer reports whether issuer is Alibaba Cloud's OAuth service
// (China or international site).
func IsAlibabaIssuer(issuer string) bool {
	u, err := url.Parse(issuer)
	if err != nil {
		return false
	}
	h := strings.ToLower(u.Hostname())
	return u.Scheme == "https" && (h == "oauth.aliyun.com" || h == "oauth.alibabacloud.com")
}
