package edgeauth

import (
	"errors"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/edgeauth/caddy-edgeauth/module/decision"
	"github.com/edgeauth/caddy-edgeauth/module/identity"
	"github.com/edgeauth/caddy-edgeauth/module/login"
	"github.com/edgeauth/caddy-edgeauth/module/session"
)

// Optional identity: on an `optional` path that no scope or claim rule (and
// no public pattern) matches, a valid credential gives the upstream the
// identity, and none passes anonymously. See the README, "Optional
// identity".

// identifyOptional finds the caller on an optional path. A bearer or DPoP
// token (or several Authorization fields) is judged exactly as on a
// protected path: valid gives its identity, invalid 401, keys not loaded 503. A live session gives
// its identity; no session, or one that has ended (logged out, expired,
// refresh failed), gives a nil identity and no answer, never a login
// redirect. A session store that cannot be reached is 503, as elsewhere.
func (h *Handler) identifyOptional(w http.ResponseWriter, r *http.Request) (*identity.Identity, *session.Session, bool, error) {
	// A token the gateway judges (Bearer, or DPoP: a sender-constrained
	// token is never an anonymous caller) is verified or refused as on any
	// path; other schemes (Basic …) are no credential.
	if _, presented := presentedCredential(r); presented || multipleAuthorization(r) {
		return h.identify(w, r)
	}
	if h.flow == nil {
		return nil, nil, false, nil
	}
	s, err := h.flow.Session(r.Context(), w, r)
	switch {
	case err == nil:
		return s.Identity(), s, false, nil
	case errors.Is(err, session.ErrNoSession) || login.IsLoginRequired(err):
		// Session ended: Flow.Session has cleared the cookie where it knows
		// the session is over (refresh failed, signed out, tokens expired);
		// a cookie that does not open is left to expire, so that this
		// answer never overwrites a session a concurrent login just set.
		return nil, nil, false, nil
	}
	return nil, nil, true, h.denyStore(w, r, err)
}

// passAnonymous sends a request on an optional path upstream without an
// identity: identity headers are already stripped (ServeHTTP's first step),
// the plugin's cookies are removed, every identity and token placeholder is
// empty, no STS exchange happens, and with pass_access_token any client
// Authorization is dropped (the upstream's Authorization is only ever a
// verified bearer token or the session's own).
func (h *Handler) passAnonymous(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	provideAnonymous(repl)
	h.stripOwnCookies(r)
	if h.PassAccessToken {
		dropAuthorization(r.Header)
	}
	h.decide(r, decision.ReasonOptionalAnonymous, "", "")
	return next.ServeHTTP(w, r)
}
