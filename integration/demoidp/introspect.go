package demoidp

import (
	"net/http"
	"strings"
)

// handleIntrospect implements RFC 7662 for confidential clients.
func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodPost) || !parseForm(w, r) {
		return
	}
	if _, ok := s.authenticateClient(w, r, true); !ok {
		return
	}
	token := r.PostForm.Get("token")
	if token == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "token is missing")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	g, tokenType := s.introspectable(token)
	if g == nil {
		writeJSON(w, http.StatusOK, map[string]any{"active": false})
		return
	}
	resp := map[string]any{
		"active":     true,
		"scope":      strings.Join(g.scopes, " "),
		"client_id":  g.clientID,
		"sub":        g.user.Subject,
		"exp":        g.expires.Unix(),
		"iss":        s.issuer,
		"token_type": tokenType,
	}
	if g.clientID != "" {
		resp["aud"] = g.clientID
	}
	if g.jkt != "" {
		resp["cnf"] = map[string]any{"jkt": g.jkt}
		resp["token_type"] = "DPoP"
	}
	if !g.issuedAt.IsZero() {
		resp["iat"] = g.issuedAt.Unix()
	}
	if g.user.Username != "" {
		resp["username"] = g.user.Username
	}
	writeJSON(w, http.StatusOK, resp)
}

// introspectable finds an active access or refresh token.
func (s *Server) introspectable(token string) (*grant, string) {
	if g, _ := s.lookupAccess(token); g != nil {
		return g, "Bearer"
	}
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if g, ok := s.state.refresh[tokenKey(token)]; ok && !g.revoked && !g.rotatedOut && !now.After(g.expires) {
		c := *g
		return &c, "refresh_token"
	}
	return nil, ""
}

// handleRevoke implements RFC 7009: revoking a refresh token also revokes the
// access tokens of the same grant. Unknown tokens get 200, as the RFC says.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodPost) || !parseForm(w, r) {
		return
	}
	c, ok := s.authenticateClient(w, r, false)
	if !ok {
		return
	}
	token := r.PostForm.Get("token")
	if token == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "token is missing")
		return
	}
	key := tokenKey(token)
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.state.refresh[key]
	isRefresh := g != nil
	if g == nil {
		g = s.state.access[key]
	}
	if g != nil && g.clientID != c.ID {
		oauthError(w, http.StatusBadRequest, "unauthorized_client", "the token was issued to another client")
		return
	}
	if g != nil {
		g.revoked = true
		if isRefresh {
			for _, a := range s.state.access {
				if a.family == g.family {
					a.revoked = true
				}
			}
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}
