package demoidp

import (
	"net/http"
)

// Discovery returns the OpenID Provider Metadata that the discovery endpoint serves.
func (s *Server) Discovery() map[string]any {
	iss := s.issuer
	stated := iss
	if p := s.stated.Load(); p != nil {
		stated = *p
	}
	return map[string]any{
		"issuer":                                        stated,
		"authorization_endpoint":                        iss + PathAuthorize,
		"token_endpoint":                                iss + PathToken,
		"userinfo_endpoint":                             iss + PathUserinfo,
		"jwks_uri":                                      iss + PathJWKS,
		"end_session_endpoint":                          iss + PathLogout,
		"revocation_endpoint":                           iss + PathRevoke,
		"introspection_endpoint":                        iss + PathIntrospect,
		"scopes_supported":                              s.supportedScopes(),
		"response_types_supported":                      []string{"code"},
		"response_modes_supported":                      []string{"query"},
		"grant_types_supported":                         []string{"authorization_code", "refresh_token"},
		"subject_types_supported":                       []string{"public"},
		"code_challenge_methods_supported":              []string{"S256", "plain"},
		"token_endpoint_auth_methods_supported":         []string{"client_secret_post", "client_secret_basic"},
		"revocation_endpoint_auth_methods_supported":    []string{"client_secret_post", "client_secret_basic"},
		"introspection_endpoint_auth_methods_supported": []string{"client_secret_post", "client_secret_basic"},
		"id_token_signing_alg_values_supported":         s.keys.publishedAlgs(),
		"claims_supported": []string{
			"sub", "iss", "aud", "iat", "exp", "auth_time", "nonce", "sid",
			"aid", "uid", "type", "name", "upn", "login_name", "email", "email_verified",
		},
		"authorization_response_iss_parameter_supported": true,
		"frontchannel_logout_supported":                  false,
		"backchannel_logout_supported":                   false,
	}
}

func (s *Server) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(w, http.StatusOK, s.Discovery())
}

// JWKS returns the published key set, {"keys":[…]}.
func (s *Server) JWKS() map[string]any {
	return map[string]any{"keys": s.keys.publishedJWKs()}
}

func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	if cc := *s.jwksCache.Load(); cc != "" {
		w.Header().Set("Cache-Control", cc)
	}
	// application/json, as Alibaba Cloud and most providers serve it (RFC 7517
	// also allows application/jwk-set+json).
	writeJSON(w, http.StatusOK, s.JWKS())
}

// SetStatedIssuer makes the discovery document state iss as its issuer while
// every endpoint URL and every token keeps the real one: a provider whose
// metadata disagrees with the issuer it was configured as. "" restores the
// real issuer.
func (s *Server) SetStatedIssuer(iss string) {
	if iss == "" {
		s.stated.Store(nil)
		return
	}
	s.stated.Store(&iss)
}

// SetJWKSCacheControl sets the Cache-Control header of JWKS answers; ""
// sends none, so a client falls back to its own refresh interval.
func (s *Server) SetJWKSCacheControl(v string) { s.jwksCache.Store(&v) }
