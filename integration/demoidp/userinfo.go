package demoidp

import (
	"net/http"
	"slices"
	"strings"
)

func (s *Server) handleUserinfo(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet, http.MethodPost) {
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	auth := r.Header.Get("Authorization")
	scheme, token, _ := strings.Cut(auth, " ")
	if auth == "" || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="demoidp"`)
		writeJSON(w, http.StatusUnauthorized, map[string]any{
			"error": "invalid_request", "error_description": "send the access token as Authorization: Bearer <token>",
		})
		return
	}
	g, problem := s.lookupAccess(strings.TrimSpace(token))
	if g == nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="demoidp", error="invalid_token", error_description="`+quoteSafe(problem)+`"`)
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_token", "error_description": problem})
		return
	}
	if !slices.Contains(g.scopes, "openid") {
		w.Header().Set("WWW-Authenticate", `Bearer realm="demoidp", error="insufficient_scope", scope="openid"`)
		writeJSON(w, http.StatusForbidden, map[string]any{"error": "insufficient_scope", "error_description": "userinfo needs the openid scope"})
		return
	}
	claims := userClaims(g.user, g.scopes)
	if s.opts.UserinfoStatesClient && g.clientID != "" {
		claims["aud"], claims["azp"] = g.clientID, g.clientID
	}
	writeJSON(w, http.StatusOK, claims)
}

// quoteSafe makes s safe inside a quoted auth-param (RFC 9110 §11.2).
func quoteSafe(s string) string {
	return strings.NewReplacer(`"`, "'", `\`, "/", "\r", " ", "\n", " ").Replace(s)
}
