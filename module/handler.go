package edgeauth

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/edgeauth/caddy-edgeauth/module/assertsign"
	"github.com/edgeauth/caddy-edgeauth/module/decision"
	"github.com/edgeauth/caddy-edgeauth/module/fleet"
	"github.com/edgeauth/caddy-edgeauth/module/identity"
	"github.com/edgeauth/caddy-edgeauth/module/login"
	"github.com/edgeauth/caddy-edgeauth/module/policy"
	"github.com/edgeauth/caddy-edgeauth/module/session"
	"github.com/edgeauth/caddy-edgeauth/module/token"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler is the `http.handlers.edgeauth` middleware. On every request it
// strips client-supplied identity headers, decides from the route's rules
// whether an identity is needed, verifies the caller's bearer token, checks
// the route's scope and claim rules, and hands the identity to the upstream
// as headers and placeholders.
type Handler struct {
	// Providers names the providers (from the edgeauth app) whose tokens this
	// route accepts; a token is matched to one by its `iss`. Default: all.
	Providers []string `json:"providers,omitempty"`

	// Public lists path patterns that need no identity, unless a scope or
	// claim rule also matches the request.
	Public []string `json:"public,omitempty"`

	// Optional lists path patterns where a valid bearer token or session
	// gives the upstream the identity and a request without one (or with
	// an ended session) passes anonymously, with every identity header
	// stripped; an invalid bearer token is still refused. Scope and claim
	// rules, and public patterns, win where they also match.
	Optional []string `json:"optional,omitempty"`

	// PassAccessToken sends session requests upstream with
	// `Authorization: Bearer <the session's current access token>`,
	// replacing any Authorization the client sent. Bearer requests keep
	// theirs. Needs login.
	PassAccessToken bool `json:"pass_access_token,omitempty"`

	// Scopes are path patterns that need scopes; a request must hold every
	// scope of every matching rule.
	Scopes []policy.ScopeRule `json:"scopes,omitempty"`

	// Claims are path patterns that need a claim to equal one of some values.
	Claims []policy.ClaimRule `json:"claims,omitempty"`

	// Headers adds, renames or removes identity headers. A header named
	// `-X-Auth-Email` removes that default; any other sets the header to the
	// value, a template of placeholders such as {http.auth.user.upn}.
	Headers []HeaderConfig `json:"headers,omitempty"`

	// StripPrefixes are the header prefixes deleted from every incoming
	// request (case and `_`/`-` insensitive). Default: X-Auth- and X-Sts-.
	StripPrefixes []string `json:"strip_prefixes,omitempty"`

	// Login turns on the browser login with the first provider named (with
	// none named: the alphabetically first provider of the app).
	Login *LoginConfig `json:"login,omitempty"`

	// STS exchanges the caller's OIDC token for temporary credentials and
	// hands them to the upstream.
	STS *STSUse `json:"sts,omitempty"`

	// DPoPOrigin is the scheme and host (e.g. https://api.example.com) that
	// DPoP proofs' htu must name, for a gateway behind another proxy that
	// changes them. Default: this connection's scheme and the Host header.
	DPoPOrigin string `json:"dpop_origin,omitempty"`

	// DecisionLogLevel is the level of the log line written for each
	// refused request (debug, info, warn or error). Default: debug.
	// A verified caller refused with 403 (scope, claim or STS role) is
	// logged at info, or at this level when it is higher. Allowed requests
	// are logged at debug.
	DecisionLogLevel string `json:"decision_log_level,omitempty"`

	// Assertion sends the upstream a signed identity assertion (a JWT in
	// X-Auth-Assertion) made with the app's `assertion` settings.
	Assertion *AssertionUse `json:"assertion,omitempty"`

	bearer bearerAuth
	flow   *login.Flow // nil without login
	// backchannel serves <prefix>backchannel_logout with a Redis store.
	backchannel     http.Handler
	backchannelPath string
	exchange        *routeExchange // nil without sts
	policy          *policy.Policy
	headers         *identity.Headers
	signer          *assertsign.Signer // the app's; nil when it signs no assertions
	logger          *zap.Logger
	denyLevel       zapcore.Level
}

// HeaderConfig sets one identity header for the upstream.
type HeaderConfig struct {
	// Name is the header name; a leading `-` removes a default header.
	Name string `json:"name"`
	// Value is a template with placeholders, e.g. {http.auth.user.upn}.
	Value string `json:"value,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.edgeauth",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision resolves the named providers and compiles the route rules and
// header settings.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	var err error
	if h.denyLevel, err = parseDecisionLogLevel(h.DecisionLogLevel); err != nil {
		return fmt.Errorf("edgeauth: %w", err)
	}
	if err := h.bearer.setup(ctx, h.Providers); err != nil {
		return err
	}
	if err := h.bearer.setOrigin(h.DPoPOrigin); err != nil {
		return err
	}
	if h.policy, err = policy.New(policy.Config{Public: h.Public, Optional: h.Optional, Scopes: h.Scopes, Claims: h.Claims}); err != nil {
		return fmt.Errorf("edgeauth: %w", err)
	}
	specs := make([]identity.HeaderSpec, len(h.Headers))
	for i, hc := range h.Headers {
		specs[i] = identity.HeaderSpec{Name: hc.Name, Value: hc.Value}
	}
	if h.headers, err = identity.NewHeaders(h.assertionHeaderSpecs(specs), h.StripPrefixes); err != nil {
		return fmt.Errorf("edgeauth: header: %w", err)
	}
	if h.PassAccessToken && h.Login == nil {
		return fmt.Errorf("edgeauth: pass_access_token sends a session's access token upstream, but this route has no `login`: add `login`, or remove pass_access_token (bearer requests keep their Authorization header anyway)")
	}
	if err := h.provisionAssertion(); err != nil {
		return err
	}
	if h.Login != nil {
		if err := h.provisionLogin(); err != nil {
			return err
		}
	}
	if h.STS != nil {
		return h.provisionSTS()
	}
	return nil
}

// ServeHTTP runs the request pipeline described in docs/ARCHITECTURE.md and
// the README.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	// 1. No client-supplied copy of an identity header survives, on any route.
	h.headers.Strip(r.Header)
	if h.PassAccessToken {
		// The upstream's Authorization is the gateway's to set on this
		// route: not even a trailer may carry another.
		h.headers.StripTrailers(r, "Authorization")
	} else {
		h.headers.StripTrailers(r)
	}
	// Nor can a caller have a proxy drop headers set after this handler
	// (request_header from {http.auth.user.*}) by naming them in Connection.
	identity.KeepConnectionOptions(r.Header)

	// Paths that an upstream may read otherwise than the rules do are
	// refused, on every route and before the login endpoints.
	if err := policy.CheckPath(r.URL); err != nil {
		h.decide(r, decision.ReasonInvalidPath, "", err.Code())
		return refuse(w, r, jsonDenial(http.StatusBadRequest, decision.ReasonInvalidPath, errorBody{Error: "invalid_request", Description: err.Error()}, nil))
	}

	// 2. The login endpoints and the assertion keys are the plugin's own.
	if h.serveWellKnown(w, r) {
		return nil
	}
	if h.backchannel != nil && r.URL.Path == h.backchannelPath {
		h.backchannel.ServeHTTP(w, r)
		return nil
	}
	if h.flow != nil && h.flow.Owns(r) {
		h.flow.ServeHTTP(w, r)
		return nil
	}

	// 3. The route's rules, on the same path Caddy routes on.
	need := h.policy.Evaluate(r)
	if need.Public {
		h.decide(r, decision.ReasonPublic, "", "")
		h.stripOwnCookies(r)
		if h.PassAccessToken {
			// On this route the upstream's Authorization is only ever one
			// the gateway vouches for; a public path checks none.
			dropAuthorization(r.Header)
		}
		return next.ServeHTTP(w, r)
	}

	// 4. The credential: a bearer token first, else the session cookie;
	// never a token from the query string. On an optional path, none (or
	// an ended session) passes anonymously.
	var id *identity.Identity
	var sess *session.Session
	var done bool
	var err error
	if need.Optional {
		id, sess, done, err = h.identifyOptional(w, r)
	} else {
		id, sess, done, err = h.identify(w, r)
	}
	if done {
		return err
	}
	if id == nil {
		return h.passAnonymous(w, r, next)
	}
	// The caller is known from here on, allowed or not: the access log's
	// user_id and the decision log name it (docs/ARCHITECTURE.md, "module
	// (handler decisions)").
	repl := h.provide(r, id)
	provideTokens(repl, r, sess)

	// 5. Scope and claim rules.
	if d := need.Authorize(id); d.Outcome != policy.Allow {
		reason := decision.ReasonInsufficientScope
		if d.Outcome == policy.AccessDenied {
			reason = decision.ReasonClaimMismatch
		}
		h.decide(r, reason, id.Provider, d.Detail)
		if sess != nil && login.IsBrowserNavigation(r) {
			if d.Outcome == policy.InsufficientScope {
				if missing, ask := h.flow.StepUp(sess, d.Scopes); ask {
					h.flow.StartLogin(w, r, r.URL.RequestURI(), missing)
					return nil
				}
			}
			den := forbiddenDenial(r, reason, d)
			den.page, den.scopes = true, d.Scopes
			return refuse(w, r, den)
		}
		return refuse(w, r, forbiddenDenial(r, reason, d))
	}
	allowed := decision.ReasonAuthorized
	if sess != nil {
		allowed = decision.ReasonSession
	}

	// 6. Identity (and temporary credentials) to the upstream. A request
	// refused by the STS is counted once, with the STS's reason.
	// The assertion names the STS role, so it is signed after the exchange
	// and injected with the other identity headers.
	h.stripOwnCookies(r)
	role := ""
	if h.exchange != nil {
		creds, arn, err := h.exchange.credentials(r.Context(), id, repl)
		if err != nil {
			return h.denySTS(w, r, id.Provider, err)
		}
		role = arn
		h.exchange.injectCredentials(r, repl, creds, role)
	}
	if err := h.assert(r, id, role, repl); err != nil {
		return h.denyAssertion(w, r, id.Provider, err)
	}
	h.headers.Inject(r.Header, id, repl)
	h.relaySessionToken(r, sess)
	h.decide(r, allowed, id.Provider, "")
	return next.ServeHTTP(w, r)
}

// identify finds the caller: a bearer token, else (with login) the session.
// When it answers the request itself (401, 302 to login, 503) done is true
// and err is what ServeHTTP returns.
func (h *Handler) identify(w http.ResponseWriter, r *http.Request) (id *identity.Identity, sess *session.Session, done bool, err error) {
	if multipleAuthorization(r) {
		h.decide(r, decision.ReasonInvalidToken, h.bearer.soleProvider(), "malformed")
		return nil, nil, true, refuse(w, r, challengeDenial(r, http.StatusBadRequest, decision.ReasonInvalidToken, challenge{errCode: "invalid_request", description: "more than one Authorization header", inHeader: true}, nil))
	}
	if cred, presented := presentedCredential(r); presented {
		id, nonce, err, refusal := h.bearer.authenticateRequest(r, cred)
		switch {
		case err != nil:
			return nil, nil, true, h.denyToken(w, r, err, cred.dpop)
		case refusal != nil:
			h.decide(r, refusal.reason, refusal.provider, refusal.detail)
			return nil, nil, true, refuse(w, r, refusal.denial(r, cred.dpop))
		}
		if nonce != "" {
			w.Header().Set("DPoP-Nonce", nonce)
		}
		return id, nil, false, nil
	}
	reason := decision.ReasonNoCredential
	if h.flow != nil {
		s, err := h.flow.Session(r.Context(), w, r)
		switch {
		case err == nil:
			return s.Identity(), s, false, nil
		case !errors.Is(err, session.ErrNoSession) && !login.IsLoginRequired(err):
			return nil, nil, true, h.denyStore(w, r, err)
		case login.IsBrowserNavigation(r):
			h.decide(r, decision.ReasonLoginRedirect, "", "")
			h.flow.StartLogin(w, r, r.URL.RequestURI(), nil)
			return nil, nil, true, nil
		case errors.Is(err, login.ErrLoginRequired):
			// A session that existed and could not be refreshed; no
			// session at all stays no_credential.
			reason = decision.ReasonRefreshFailed
		}
	}
	h.decide(r, reason, "", "")
	d := challengeDenial(r, http.StatusUnauthorized, reason, challenge{errCode: "unauthorized", description: "authentication required"}, nil)
	d.challenge2 = h.bearer.dpopOffer()
	return nil, nil, true, refuse(w, r, d)
}

// denyStore answers 503 when the session store could not be reached.
func (h *Handler) denyStore(w http.ResponseWriter, r *http.Request, err error) error {
	h.decide(r, decision.ReasonStoreUnavailable, "", "")
	h.logger.Error("session store failed", zap.Error(err))
	retry, _ := fleet.RetryAfter(err)
	return refuse(w, r, unavailableDenial(decision.ReasonStoreUnavailable, "temporarily_unavailable", "the session store is unavailable", retry, nil))
}

// stripOwnCookies removes the plugin's session and login cookies from the
// request before it goes upstream.
func (h *Handler) stripOwnCookies(r *http.Request) {
	if h.flow != nil {
		h.flow.StripOwnCookies(r.Header)
	}
}

// provide sets the {http.auth.user.*} placeholders for a verified caller
// (Caddy's access log takes user_id from {http.auth.user.id}) and returns
// the request's replacer.
func (h *Handler) provide(r *http.Request, id *identity.Identity) *caddy.Replacer {
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if repl == nil {
		repl = caddy.NewReplacer()
	}
	identity.Provide(repl, id)
	return repl
}

// denyToken answers a token that failed verification: 503 while keys are not
// loaded yet, 401 invalid_token otherwise.
func (h *Handler) denyToken(w http.ResponseWriter, r *http.Request, err error, presentedDPoP bool) error {
	var te *token.Error
	errors.As(err, &te)
	if decision.ReasonForTokenError(err) == decision.ReasonKeysUnavailable {
		h.decide(r, decision.ReasonKeysUnavailable, h.bearer.soleProvider(), decision.TokenErrorDetail(err))
		return refuse(w, r, unavailableDenial(decision.ReasonKeysUnavailable, "temporarily_unavailable", te.Description, te.RetryAfter, nil))
	}
	desc := "token is not valid"
	if te != nil {
		desc = te.Description
	}
	h.decide(r, decision.ReasonInvalidToken, h.bearer.soleProvider(), decision.TokenErrorDetail(err))
	d := challengeDenial(r, http.StatusUnauthorized, decision.ReasonInvalidToken, challenge{errCode: "invalid_token", description: desc, inHeader: true}, nil)
	if presentedDPoP {
		d.challenge, d.challenge2 = h.bearer.dpopTokenChallenges(r, desc)
	}
	return refuse(w, r, d)
}

// decide counts a decision and logs it at decisionLevel. reason is a fixed
// code; detail is a fixed code too (decision.TokenErrorDetail), never
// request data.
func (h *Handler) decide(r *http.Request, reason decision.Reason, provider, detail string) {
	h.bearer.app.metrics.Decision(provider, reason)
	logDecision(h.logger, decisionLevel(reason, h.denyLevel), r, reason, provider, detail)
}

// Interface guards.
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
