package login

import (
	"net/http"
	"net/url"
	"strings"

	"go.uber.org/zap"
)

// logout clears the session (all chunks) and any pending logins. POST always
// logs out; GET does too unless Sec-Fetch-Site says cross-site, in which
// case a page asks for confirmation with a POST form (no drive-by logouts).
// With an end_session_endpoint the browser is sent there (RP-initiated
// logout with id_token_hint, post_logout_redirect_uri, client_id, state);
// otherwise to the rd parameter (validated) or "/".
func (f *Flow) logout(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost && strings.EqualFold(strings.TrimSpace(r.Header.Get("Sec-Fetch-Site")), "cross-site") {
		f.logoutConfirmPage(w, r)
		return
	}
	s, _ := f.cfg.Store.Load(r)
	if err := f.cfg.Store.Clear(w, r); err != nil {
		f.log.Error("cannot clear the session", zap.Error(err))
	}
	f.pending.clearAll(w, r)
	w.Header().Set("Cache-Control", "no-store")

	if meta, ok := f.cfg.Provider.Metadata(); ok && meta.EndSessionEndpoint != "" {
		if u, err := url.Parse(meta.EndSessionEndpoint); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
			q := u.Query()
			if s != nil && s.IDToken != "" && s.Provider == f.cfg.Provider.Name() {
				q.Set("id_token_hint", s.IDToken)
			}
			if f.cfg.PostLogoutRedirectURI != "" {
				q.Set("post_logout_redirect_uri", f.cfg.PostLogoutRedirectURI)
			}
			q.Set("client_id", f.cfg.ClientID)
			q.Set("state", randomToken(16))
			u.RawQuery = q.Encode()
			u.Fragment = ""
			http.Redirect(w, r, u.String(), http.StatusFound)
			return
		}
		f.log.Warn("end_session_endpoint is not an absolute http(s) URL; logging out locally only")
	}
	rd, _ := SafeReturnPath(r.URL.Query().Get("rd"))
	http.Redirect(w, r, rd, http.StatusFound)
}

// logoutConfirmPage asks a cross-site visitor to confirm the logout.
func (f *Flow) logoutConfirmPage(w http.ResponseWriter, r *http.Request) {
	action := f.cfg.Prefix + "logout"
	if rd, ok := SafeReturnPath(r.URL.Query().Get("rd")); ok {
		action += "?rd=" + url.QueryEscape(rd)
	}
	setPageHeaders(w, "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Sign out</title></head><body>" +
		"<h1>Sign out?</h1><p>Another site sent you here to sign out. Do you want to sign out?</p>" +
		"<form method=\"post\" action=\"" + htmlEscape(action) + "\"><button type=\"submit\">Sign out</button></form>" +
		"</body></html>\n"))
}
