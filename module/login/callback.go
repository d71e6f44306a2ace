package login

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/edgeauth/caddy-edgeauth/module/identity"
	"github.com/edgeauth/caddy-edgeauth/module/logsafe"
	"github.com/edgeauth/caddy-edgeauth/module/session"
	"github.com/edgeauth/caddy-edgeauth/module/token"
)

// callbackError is a failed callback: what the user is told and how loudly.
type callbackError struct {
	status  int
	title   string
	message string
	// cause is logged (it never contains tokens, codes or secrets).
	cause error
}

func (e *callbackError) Error() string { return e.message }

func fail(status int, title, message string, cause error) *callbackError {
	return &callbackError{status: status, title: title, message: message, cause: cause}
}

// exchangeTimeout bounds the code exchange.
const exchangeTimeout = 15 * time.Second

// callback completes a login. Every failure answers a small HTML page,
// clears the pending-login cookie and sets no session.
func (f *Flow) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	pl, ok := f.pending.take(w, r, q.Get("state"), f.cfg.Now())
	var err *callbackError
	var s *session.Session
	if e := q.Get("error"); e != "" {
		err = f.providerError(q.Get("error"), q.Get("error_description"), pl, ok)
	} else if !ok {
		err = fail(http.StatusBadRequest, "Sign-in failed",
			"Login state missing or already used: this sign-in was started in another browser, has expired, or was already completed. Please sign in again.", nil)
	} else {
		s, err = f.complete(r.Context(), r, pl)
	}
	if err != nil {
		f.log.Info("login callback failed", zap.Int("status", err.status), zap.String("reason", err.message), zap.NamedError("cause", err.cause))
		errorPage(w, err.status, err.title, err.message, f.cfg.Prefix+"start")
		return
	}
	if e := f.cfg.Store.Save(w, r, s); e != nil {
		if errors.Is(e, session.ErrNoSession) { // server-side store: a back-channel logout ended it first
			f.log.Info("the new session was ended by a back-channel logout before it was stored")
			errorPage(w, http.StatusBadRequest, "Sign-in failed", "You were signed out at the identity provider while this sign-in completed. Please sign in again.", f.cfg.Prefix+"start")
			return
		}
		f.log.Error("cannot save the new session", zap.Error(e))
		if errors.Is(e, session.ErrTooLarge) {
			errorPage(w, http.StatusInternalServerError, "Sign-in failed", "The session could not be stored (it is too large for cookies; ask the administrator to request fewer scopes).", "")
			return
		}
		// Any other error is the session store's outage (e.g. Redis down).
		errorPage(w, http.StatusServiceUnavailable, "Sign-in unavailable", "The session could not be stored right now; please try again.", f.cfg.Prefix+"start")
		return
	}
	f.log.Debug("login completed", zap.String("provider", s.Provider), zap.String("sub", s.Subject))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, pl.Return, http.StatusFound)
}

// providerError turns an authorization error response into a page. The
// description is only shown for a login this browser started, so a crafted
// link cannot put arbitrary text on the site.
func (f *Flow) providerError(code, desc string, pl *PendingLogin, known bool) *callbackError {
	code = safeCode(code)
	status := http.StatusBadRequest
	msg := "The identity provider returned the error " + code + "."
	if code == "access_denied" {
		status = http.StatusForbidden
		msg = "Access was denied at the identity provider (access_denied)."
		if known && pl.Attempt > 0 {
			msg = "The additional permissions were not granted at the identity provider (access_denied)."
		}
	}
	if known && desc != "" {
		msg += " " + logsafe.Message(desc)
	}
	return fail(status, "Sign-in failed", msg, nil)
}

// complete checks the callback against pl, redeems the code and verifies
// the ID token, returning the new session.
func (f *Flow) complete(ctx context.Context, r *http.Request, pl *PendingLogin) (*session.Session, *callbackError) {
	if pl.Provider != f.cfg.Provider.Name() {
		return nil, fail(http.StatusBadRequest, "Sign-in failed", "This sign-in was started for another identity provider.", nil)
	}
	meta, ok := f.cfg.Provider.Metadata()
	if !ok || meta.TokenEndpoint == "" {
		return nil, fail(http.StatusServiceUnavailable, "Sign-in unavailable", "The identity provider's configuration is not available; please try again.", nil)
	}
	q := r.URL.Query()
	// RFC 9207: the iss parameter, when sent (or promised), must be ours.
	if iss, sent := q["iss"]; sent || meta.AuthorizationResponseIssParameterSupported {
		if !sent || len(iss) != 1 || iss[0] != meta.Issuer {
			return nil, fail(http.StatusBadRequest, "Sign-in failed",
				"The response came from an unexpected issuer (the iss parameter does not match the configured provider).", nil)
		}
	}
	code := q.Get("code")
	if code == "" {
		return nil, fail(http.StatusBadRequest, "Sign-in failed", "The identity provider's response has no authorization code.", nil)
	}
	ctx, cancel := context.WithTimeout(ctx, exchangeTimeout)
	defer cancel()
	tr, err := f.tokenClient(meta).Exchange(ctx, meta.TokenEndpoint, code, pl.RedirectURI, pl.Verifier)
	if err != nil {
		var oe *OAuthError
		if errors.As(err, &oe) {
			return nil, fail(http.StatusBadRequest, "Sign-in failed",
				"The identity provider refused the authorization code ("+oe.Code+").", err)
		}
		return nil, fail(http.StatusServiceUnavailable, "Sign-in unavailable",
			"The identity provider's token endpoint could not be reached; please try again.", err)
	}
	if tr.IDToken == "" {
		return nil, fail(http.StatusBadGateway, "Sign-in failed",
			"The identity provider returned no ID token (is the openid scope allowed for this application?).", nil)
	}
	id, err := f.cfg.IDTokens.Verify(ctx, tr.IDToken)
	if err != nil {
		if keysUnavailable(err) {
			return nil, fail(http.StatusServiceUnavailable, "Sign-in unavailable",
				"The identity provider's signing keys could not be loaded to check the sign-in; please try again.", err)
		}
		return nil, fail(http.StatusBadRequest, "Sign-in failed", "The ID token from the identity provider is not valid.", err)
	}
	if cerr := f.checkIDToken(id, pl.Nonce, ""); cerr != nil {
		return nil, cerr
	}
	claims := f.withUserinfo(ctx, id, tr.AccessToken)
	now := f.cfg.Now()
	s := &session.Session{
		ID:           session.NewID(), // never reuse a pre-login session
		Provider:     f.cfg.Provider.Name(),
		Subject:      id.Subject,
		IDToken:      tr.IDToken,
		AccessToken:  tr.AccessToken,
		RefreshToken: tr.RefreshToken,
		TokenType:    tr.TokenType,
		Expiry:       earliest(tr.Expiry, id.Expiry),
		Scopes:       pl.Scopes,
		Claims:       claims,
		CreatedAt:    now,
		NotAfter:     now.Add(f.cfg.SessionLifetime),
	}
	if granted, known := grantedScopes(tr); known {
		s.Scopes = granted
		for _, asked := range pl.Scopes {
			if !slices.Contains(granted, asked) {
				s.Refused = append(s.Refused, asked)
			}
		}
	}
	return s, nil
}

// keysUnavailable reports whether err says the ID token could not be
// checked for want of the provider's signing keys: none have loaded, the
// lookup was cut short, or its key ID is unknown while the keys cannot be
// fetched (oidc.ErrKeysUnreachable). That is an outage, answered 503 with
// Retry-After; every other verification error means the token is not valid.
func keysUnavailable(err error) bool {
	var te *token.Error
	return errors.As(err, &te) && te.Kind == token.Unavailable
}

// protocolClaims are ID token claims about the token itself, which a
// userinfo answer never replaces or adds.
var protocolClaims = map[string]bool{
	"iss": true, "aud": true, "exp": true, "iat": true, "nbf": true, "nonce": true, "azp": true,
	"at_hash": true, "c_hash": true, "sid": true, "auth_time": true, "acr": true, "amr": true, "jti": true, "sub": true,
	// client_id names the caller's OAuth client in the signed assertion
	// (with azp): only the verified ID token may state it.
	"client_id": true,
}

// withUserinfo returns the ID token's claims completed with the provider's
// userinfo answer: many providers (OIDC Core §5.4) release profile and email
// claims only there once an access token is issued. The ID token's values
// win; an answer for another subject is ignored (§5.3.2); a failed call
// leaves the ID token's claims, as the login itself succeeded.
func (f *Flow) withUserinfo(ctx context.Context, id *identity.Identity, accessToken string) map[string]any {
	src, ok := f.cfg.Provider.(UserinfoSource)
	if !ok || accessToken == "" {
		return id.Claims
	}
	info, err := src.Userinfo(ctx, accessToken)
	if err != nil {
		f.log.Info("userinfo could not be read at login; using the ID token's claims", zap.Error(err))
		return id.Claims
	}
	if sub, _ := info["sub"].(string); sub != id.Subject {
		f.log.Warn("userinfo answered for another subject; its claims are ignored")
		return id.Claims
	}
	merged := make(map[string]any, len(id.Claims)+len(info))
	for k, v := range id.Claims {
		merged[k] = v
	}
	for k, v := range info {
		if _, have := merged[k]; !have && !protocolClaims[k] {
			merged[k] = v
		}
	}
	return merged
}

// checkIDToken applies the checks the verifier leaves to the client: the
// nonce (when wantNonce is set), aud containing the client ID with azp
// naming it when there are several audiences (OIDC Core §3.1.3.7), and sub
// (when wantSub is set, on refresh).
func (f *Flow) checkIDToken(id *identity.Identity, wantNonce, wantSub string) *callbackError {
	if id.Subject == "" {
		return fail(http.StatusBadRequest, "Sign-in failed", "The ID token has no subject.", nil)
	}
	if wantSub != "" && id.Subject != wantSub {
		return fail(http.StatusBadRequest, "Sign-in failed", "The refreshed ID token is for another subject.", nil)
	}
	if wantNonce != "" {
		raw, present := id.Claims["nonce"]
		nonce, _ := raw.(string)
		switch {
		case !present && !f.cfg.AllowMissingNonce:
			return fail(http.StatusBadRequest, "Sign-in failed", "The ID token has no nonce.", nil)
		case present && subtle.ConstantTimeCompare([]byte(nonce), []byte(wantNonce)) != 1:
			return fail(http.StatusBadRequest, "Sign-in failed", "The ID token's nonce does not match this sign-in.", nil)
		}
	}
	auds := audiences(id.Claims["aud"])
	if !slices.Contains(auds, f.cfg.ClientID) {
		return fail(http.StatusBadRequest, "Sign-in failed", "The ID token was issued for another application (aud).", nil)
	}
	azp, hasAzp := id.Claims["azp"].(string)
	if (len(auds) > 1 || hasAzp) && azp != f.cfg.ClientID {
		return fail(http.StatusBadRequest, "Sign-in failed", "The ID token was issued for another application (azp).", nil)
	}
	return nil
}

func audiences(v any) []string {
	switch a := v.(type) {
	case string:
		return []string{a}
	case []string:
		return a
	case []any:
		var out []string
		for _, x := range a {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// earliest returns the earlier non-zero time (zero if both are zero).
func earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	}
	return b
}
