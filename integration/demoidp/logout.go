package demoidp

import (
	"net/http"
)

// handleLogout implements OpenID Connect RP-Initiated Logout 1.0.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet, http.MethodPost) || !parseForm(w, r) {
		return
	}
	hint := r.Form.Get("id_token_hint")
	clientID := r.Form.Get("client_id")
	redirect := r.Form.Get("post_logout_redirect_uri")
	rec := Logout{Time: s.opts.Now(), State: r.Form.Get("state")}
	if hint != "" {
		claims, err := s.verifyOwn(hint, false)
		if err != nil {
			s.errorPage(w, http.StatusBadRequest, "Invalid logout request", "id_token_hint is not an ID token from this provider.")
			return
		}
		aud, _ := claims.GetAudience()
		if clientID != "" && (len(aud) == 0 || aud[0] != clientID) {
			s.errorPage(w, http.StatusBadRequest, "Invalid logout request", "client_id does not match the audience of id_token_hint.")
			return
		}
		if len(aud) > 0 {
			clientID = aud[0]
		}
		rec.Subject, _ = claims["sub"].(string)
		rec.SID, _ = claims["sid"].(string)
		rec.IDTokenHintValid = true
	}
	rec.ClientID = clientID
	if redirect != "" {
		c, ok := s.client(clientID)
		if !ok {
			s.errorPage(w, http.StatusBadRequest, "Invalid logout request",
				"post_logout_redirect_uri needs id_token_hint or client_id naming a registered client.")
			return
		}
		if !redirectAllowed(c, c.PostLogoutRedirectURIs, redirect) {
			s.errorPage(w, http.StatusBadRequest, "Invalid logout request",
				"post_logout_redirect_uri is not registered for client "+c.ID+".")
			return
		}
		rec.PostLogoutRedirectURI = redirect
	}
	s.mu.Lock()
	s.state.logouts = append(s.state.logouts, rec)
	s.mu.Unlock()
	if redirect != "" {
		http.Redirect(w, r, withParams(redirect, map[string]string{"state": rec.State}), http.StatusFound)
		return
	}
	render(w, http.StatusOK, "message", map[string]any{"Title": "Signed out", "Message": "You are signed out of the demo IdP."})
}
