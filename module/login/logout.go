package login

import (
	"net/http"
	"net/url"

	"go.uber.org/zap"
)

// logout clears the session (all chunks) and any pending logins and starts
// the revocation of its refresh token (revokeAtLogout), but only for a
// request the browser's own pages sent (see logoutSilently) or the
// confirm page's button (see confirmedLogout); anything else (another site,
// a sibling subdomain, Origin: null) gets a page that asks for confirmation
// with a guarded POST form (no drive-by logouts).
// With an end_session_endpoint the browser is sent there (RP-initiated
// logout with client_id, post_logout_redirect_uri and state, plus
// id_token_hint only with LogoutIDTokenHint: a URL is no place for a token
// that may pass as a bearer credential); otherwise to the rd parameter
// (validated) or "/".
func (f *Flow) logout(w http.ResponseWriter, r *http.Request) {
	if !f.logoutSilently(r) && !f.confirmedLogout(w, r) {
		f.logoutConfirmPage(w, r)
		return
	}
	f.expireLogoutCookie(w, r)
	s, _ := f.cfg.Store.Load(r)
	if err := f.cfg.Store.Clear(w, r); err != nil {
		f.log.Error("cannot clear the session", zap.Error(err))
	}
	f.markSignedOut(w, r, s)
	f.revokeAtLogout(s)
	f.pending.clearAll(w, r)
	w.Header().Set("Cache-Control", "no-store")

	if meta, ok := f.cfg.Provider.Metadata(); ok && meta.EndSessionEndpoint != "" {
		if u, err := url.Parse(meta.EndSessionEndpoint); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
			q := u.Query()
			if f.cfg.LogoutIDTokenHint && s != nil && s.IDToken != "" && s.Provider == f.cfg.Provider.Name() {
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

// logoutConfirmPage asks a visitor sent by another site to confirm the
// logout. The form carries a guard bound to this browser (logoutGuard). The
// page's referrer policy is same-origin, so that browsers send the form with
// the gateway's Origin and Referer.
func (f *Flow) logoutConfirmPage(w http.ResponseWriter, r *http.Request) {
	action := f.cfg.Prefix + "logout"
	if rd, ok := SafeReturnPath(r.URL.Query().Get("rd")); ok {
		action += "?rd=" + url.QueryEscape(rd)
	}
	guard := f.logoutGuard(w, r)
	setPageHeaders(w, "text/html; charset=utf-8")
	w.Header().Set("Referrer-Policy", "same-origin")
	// form-action also governs the redirect that answers the form, which
	// goes to the end_session_endpoint when there is one.
	formAction := "'self'"
	if o := f.endSessionOrigin(); o != "" {
		formAction += " " + o
	}
	w.Header().Set("Content-Security-Policy", "default-src 'none'; form-action "+formAction+"; frame-ancestors 'none'")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Sign out</title></head><body>" +
		"<h1>Sign out?</h1><p>Another site sent you here to sign out. Do you want to sign out?</p>" +
		"<form method=\"post\" action=\"" + htmlEscape(action) + "\">" +
		"<input type=\"hidden\" name=\"" + logoutGuardField + "\" value=\"" + htmlEscape(guard) + "\">" +
		"<button type=\"submit\">Sign out</button></form>" +
		"</body></html>\n"))
}

// endSessionOrigin is the scheme://host of the provider's
// end_session_endpoint, or "" when there is none or it holds a byte that
// does not belong in a CSP source expression.
func (f *Flow) endSessionOrigin() string {
	meta, ok := f.cfg.Provider.Metadata()
	if !ok || meta.EndSessionEndpoint == "" {
		return ""
	}
	u, err := url.Parse(meta.EndSessionEndpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ""
	}
	for _, c := range u.Host {
		if !(c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')) {
			return ""
		}
	}
	return u.Scheme + "://" + u.Host
}
