package login

import (
	"net/http"
	"time"
)

// userinfo answers the session's identity as JSON, or 401 without one.
func (f *Flow) userinfo(w http.ResponseWriter, r *http.Request) {
	s, err := f.Session(r.Context(), w, r)
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+quoteSafe(r.Host)+`"`)
		jsonResponse(w, http.StatusUnauthorized, map[string]string{
			"error":             "unauthorized",
			"error_description": "no session; sign in at " + f.cfg.Prefix + "start",
		})
		return
	}
	id := s.Identity()
	out := map[string]any{
		"provider":           id.Provider,
		"sub":                id.Subject,
		"iss":                id.Issuer,
		"scopes":             id.Scopes,
		"claims":             id.Claims,
		"session_expires_at": s.NotAfter.UTC().Format(time.RFC3339),
	}
	if id.Scopes == nil {
		out["scopes"] = []string{}
	}
	if !s.Expiry.IsZero() {
		out["expires_at"] = s.Expiry.UTC().Format(time.RFC3339)
	}
	jsonResponse(w, http.StatusOK, out)
}

// quoteSafe keeps a value safe inside a quoted-string header parameter.
func quoteSafe(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s) && len(b) < 255; i++ {
		if c := s[i]; c >= 0x20 && c < 0x7f && c != '"' && c != '\\' {
			b = append(b, c)
		}
	}
	return string(b)
}
