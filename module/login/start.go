package login

import (
	"errors"
	"net/http"
	"slices"

	"go.uber.org/zap"

	"github.com/edgeauth/caddy-edgeauth/module/session"
)

// StartLogin answers with a 302 to the provider's authorization endpoint:
// fresh state, nonce and PKCE verifier, remembered in a pending-login
// cookie. returnTo is validated with SafeReturnPath ("/" when refused).
// extraScopes are asked for on top of the configured ones (incremental
// authorization); when given, the scopes of the current session are asked
// for too and the login counts as a step-up (Attempt 1). When the
// provider's metadata has not loaded yet the answer is a 503 page with
// Retry-After.
func (f *Flow) StartLogin(w http.ResponseWriter, r *http.Request, returnTo string, extraScopes []string) {
	meta, ok := f.cfg.Provider.Metadata()
	if !ok || meta.AuthorizationEndpoint == "" {
		errorPage(w, http.StatusServiceUnavailable, "Sign-in unavailable",
			"The identity provider's configuration has not loaded yet. Please try again in a moment.", "")
		return
	}
	rd, _ := SafeReturnPath(returnTo)
	scopes := slices.Clone(f.cfg.Scopes)
	attempt := 0
	if len(extraScopes) > 0 {
		attempt = 1
		if s, err := f.cfg.Store.Load(r); err == nil && s.Provider == f.cfg.Provider.Name() && !f.signedOut(r, s) {
			scopes = appendMissing(scopes, s.Scopes...)
		}
		scopes = appendMissing(scopes, extraScopes...)
	}
	pl := &PendingLogin{
		State:       randomToken(32),
		Nonce:       randomToken(32),
		Verifier:    NewVerifier(),
		Return:      rd,
		Provider:    f.cfg.Provider.Name(),
		Scopes:      scopes,
		Created:     f.cfg.Now(),
		Attempt:     attempt,
		RedirectURI: f.redirectURI(r),
	}
	extra := map[string]string{}
	if IsAlibabaIssuer(meta.Issuer) {
		extra["access_type"] = "offline" // else Alibaba issues no refresh token
	}
	for k, v := range f.cfg.ExtraAuthParams {
		extra[k] = v
	}
	target, err := AuthorizeURL(meta.AuthorizationEndpoint, AuthParams{
		ClientID:      f.cfg.ClientID,
		RedirectURI:   pl.RedirectURI,
		Scopes:        scopes,
		State:         pl.State,
		Nonce:         pl.Nonce,
		CodeChallenge: S256Challenge(pl.Verifier),
		Extra:         extra,
	})
	if err != nil {
		f.log.Error("cannot build the authorization request", zap.Error(err))
		errorPage(w, http.StatusInternalServerError, "Sign-in misconfigured", "The sign-in request could not be built; the administrator has been told.", "")
		return
	}
	if err := f.pending.write(w, r, pl); err != nil {
		f.log.Error("cannot store the pending login", zap.Error(err))
		errorPage(w, http.StatusInternalServerError, "Sign-in failed", "The sign-in could not be started.", "")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusFound)
}

// StepUp tells the handler what to do when a session may lack the scopes a
// route needs. missing are the needed scopes the session was not granted.
// ask is true when a step-up login (StartLogin with missing as extra
// scopes) may be tried: none of missing was already asked for and refused.
// Mechanism: a login records in Session.Refused every scope it asked for
// that the provider did not grant, so a route's missing scope sends the
// browser to the provider once; after a second refusal ask is false and the
// handler answers 403.
func (f *Flow) StepUp(s *session.Session, need []string) (missing []string, ask bool) {
	for _, n := range need {
		if !slices.Contains(s.Scopes, n) {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return nil, false
	}
	for _, m := range missing {
		if slices.Contains(s.Refused, m) {
			return missing, false
		}
	}
	return missing, true
}

func appendMissing(dst []string, add ...string) []string {
	for _, a := range add {
		if a != "" && !slices.Contains(dst, a) {
			dst = append(dst, a)
		}
	}
	return dst
}

// IsLoginRequired reports whether err from Session means "send the browser
// to login again" (as opposed to an infrastructure failure).
func IsLoginRequired(err error) bool {
	return errors.Is(err, ErrLoginRequired) || errors.Is(err, session.ErrNoSession)
}
