package edgeauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/edgeauth/caddy-edgeauth/module/decision"
	"github.com/edgeauth/caddy-edgeauth/module/identity"
	"github.com/edgeauth/caddy-edgeauth/module/metrics"
	"github.com/edgeauth/caddy-edgeauth/module/sts"
	"github.com/edgeauth/caddy-edgeauth/module/token"
)

// The credential sources of a route.
const (
	sourceCaller   = "caller"
	sourceWorkload = "workload"
)

// routeExchange is a route's STS use at run time.
type routeExchange struct {
	svc         *exchangeService
	roleARN     string
	sessionName string // template
	roles       []RoleFromClaim
	workload    bool
	headers     STSHeaders
	metrics     *metrics.Metrics
}

// errNoRole is answered 403 when role_from_claims has no match.
var errNoRole = errors.New("no role is mapped to the caller's claims")

// errNoSubject refuses an exchange for a token without `sub`: 401
// invalid_token (RFC 6750 §3.1: the token is "invalid for other reasons";
// a token with a subject may be exchanged, more scope would not help).
var errNoSubject = &sts.Error{Kind: sts.InvalidToken, Code: "edgeauth.NoSubject",
	Message: "the token has no subject (sub); credentials are exchanged only for an identified caller"}

// provisionSTS resolves the route's STS settings.
func (h *Handler) provisionSTS() error {
	u := h.STS
	svc, ok := h.bearer.app.exchanges[u.Name]
	if !ok {
		return fmt.Errorf("edgeauth: sts %q is not defined: add `sts %s { … }` to the edgeauth global option", u.Name, u.Name)
	}
	rx := &routeExchange{
		svc:         svc,
		roleARN:     u.RoleARN,
		sessionName: u.RoleSessionName,
		roles:       u.RoleFromClaims,
		headers:     u.stsHeaderNames(),
	}
	if rx.roleARN == "" {
		rx.roleARN = svc.roleARN
	}
	if rx.roleARN != "" {
		if err := svc.exchanger.ValidateRole(rx.roleARN); err != nil {
			return fmt.Errorf("edgeauth: sts %s: %v", u.Name, err) // it names role_arn
		}
	}
	for i, rc := range rx.roles {
		if rc.Claim == "" || rc.Value == "" {
			return fmt.Errorf("edgeauth: sts %s role_from_claim %d: needs a claim, a value and a role ARN", u.Name, i+1)
		}
		if err := identity.ValidClaimPath(rc.Claim); err != nil {
			return fmt.Errorf("edgeauth: sts %s role_from_claim %d: %v", u.Name, i+1, err)
		}
		if err := svc.exchanger.ValidateRole(rc.RoleARN); err != nil {
			return fmt.Errorf("edgeauth: sts %s role_from_claim %s=%s: %v", u.Name, rc.Claim, rc.Value, err)
		}
	}
	if rx.roleARN == "" && len(rx.roles) == 0 && svc.exchanger.NeedsRole() {
		return fmt.Errorf("edgeauth: sts %s: no role to assume; set role_arn (on the STS or the route) or role_from_claim", u.Name)
	}
	switch u.Source {
	case "", sourceCaller:
	case sourceWorkload:
		if svc.workload == nil {
			return fmt.Errorf("edgeauth: sts %s source workload: the STS has no token_file or client_credentials for the gateway's own token", u.Name)
		}
		rx.workload = true
	default:
		return fmt.Errorf("edgeauth: sts %s source %q: use caller or workload", u.Name, u.Source)
	}
	for _, name := range []string{rx.headers.AccessKeyID, rx.headers.AccessKeySecret, rx.headers.SecurityToken, rx.headers.Expiration} {
		if err := h.headers.AddStripName(name); err != nil {
			return fmt.Errorf("edgeauth: sts %s headers: %v", u.Name, err)
		}
	}
	rx.metrics = h.bearer.app.metrics
	h.exchange = rx
	if h.logger != nil && h.logger.Core().Enabled(zapcore.DebugLevel) {
		// Caddy redacts only Authorization and Cookie: reverse_proxy's debug
		// line prints the injected credentials with every other header.
		h.logger.Warn("debug logging is on for a route that injects STS credentials: reverse_proxy's debug lines print upstream request headers, the credentials included, unless a log filter deletes them (README, Logging)",
			zap.String("sts", u.Name), zap.String("access_key_secret_header", rx.headers.AccessKeySecret), zap.String("security_token_header", rx.headers.SecurityToken))
	}
	return nil
}

// credentials returns the caller's temporary credentials, from the cache or
// one exchange.
func (rx *routeExchange) credentials(ctx context.Context, id *identity.Identity, repl *caddy.Replacer) (*sts.Credentials, string, error) {
	role := rx.roleARN
	if len(rx.roles) > 0 {
		role = ""
		for _, rc := range rx.roles {
			if identity.ClaimHas(id.Claims, rc.Claim, rc.Value) {
				role = rc.RoleARN
				break
			}
		}
		if role == "" {
			return nil, "", errNoRole
		}
	}
	svc := rx.svc
	key := sts.CacheKey{STS: svc.name, Config: svc.config, RoleARN: role, ProviderARN: svc.providerARN, Policy: svc.policy}
	if rx.workload {
		key.Source, key.SessionName = sourceWorkload, sts.SanitizeSessionName("edgeauth-gateway", "edgeauth")
		creds, err := rx.cached(ctx, key.String(), time.Time{}, func(ctx context.Context) (*sts.Credentials, error) {
			tok, _, err := svc.workload.Token(ctx)
			if err != nil {
				return nil, &sts.Error{Kind: sts.Unavailable, Code: "edgeauth.WorkloadToken", Message: "the gateway's own token could not be obtained", RetryAfter: 5 * time.Second}
			}
			creds, err := rx.exchange(ctx, sts.Request{Token: tok, RoleARN: role, ProviderARN: svc.providerARN, SessionName: key.SessionName, Duration: svc.duration, Policy: svc.policy})
			return creds, workloadRefusal(err)
		})
		return creds, role, err
	}

	if !token.JWTShaped(id.Token) {
		return nil, role, &sts.Error{Kind: sts.InvalidToken, Code: "edgeauth.NotAnOIDCToken", Message: "the credential is not an OIDC token (JWT) and cannot be exchanged"}
	}
	// Credentials belong to one caller: without a subject there is no
	// caller to hold them for (client-credentials tokens usually have none).
	if id.Subject == "" {
		return nil, role, errNoSubject
	}
	name := id.Subject
	if rx.sessionName != "" {
		name = repl.ReplaceKnown(rx.sessionName, "")
	}
	key.SessionName = sts.SanitizeSessionName(name, "edgeauth")
	key.Source = sourceCaller
	key.Provider, key.Issuer, key.Subject = id.Provider, id.Issuer, id.Subject
	key.AuthorizedParty, _ = id.Claims["azp"].(string)
	key.ClientID, _ = id.Claims["client_id"].(string)
	key.Audiences = sts.Audiences(id.Claims["aud"])
	key.Claims = sts.ClaimsFingerprint(id.Claims)
	creds, err := rx.cached(ctx, key.String(), id.Expiry, func(ctx context.Context) (*sts.Credentials, error) {
		return rx.exchange(ctx, sts.Request{Token: id.Token, RoleARN: role, ProviderARN: svc.providerARN, SessionName: key.SessionName, Duration: svc.duration, Policy: svc.policy})
	})
	return creds, role, err
}

// cached gets credentials from the STS's cache, fetching them when due, and
// counts the lookup as a hit or a miss.
func (rx *routeExchange) cached(ctx context.Context, key string, sourceExpiry time.Time, fetch func(context.Context) (*sts.Credentials, error)) (*sts.Credentials, error) {
	var fetched atomic.Bool // the fetch may run on another goroutine
	creds, err := rx.svc.cache.Get(ctx, key, sourceExpiry, func(ctx context.Context) (*sts.Credentials, error) {
		fetched.Store(true)
		return fetch(ctx)
	})
	rx.metrics.STSCache(!fetched.Load())
	return creds, err
}

// exchange runs one exchange at the STS and records its result and time.
func (rx *routeExchange) exchange(ctx context.Context, req sts.Request) (*sts.Credentials, error) {
	start := time.Now()
	creds, err := rx.svc.exchanger.Exchange(ctx, req)
	rx.metrics.STSExchange(rx.svc.name, decision.STSResultFor(err), time.Since(start))
	return creds, err
}

// injectCredentials sets the credential headers and placeholders.
func (rx *routeExchange) injectCredentials(r *http.Request, repl *caddy.Replacer, creds *sts.Credentials, role string) {
	exp := creds.Expiration.UTC().Format(time.RFC3339)
	set := func(name, value string) {
		if value = identity.Sanitize(value); value != "" {
			r.Header.Set(name, value)
		}
	}
	set(rx.headers.AccessKeyID, creds.AccessKeyID)
	set(rx.headers.AccessKeySecret, creds.AccessKeySecret)
	set(rx.headers.SecurityToken, creds.SecurityToken)
	set(rx.headers.Expiration, exp)
	repl.Set("http.auth.sts.access_key_id", creds.AccessKeyID)
	repl.Set("http.auth.sts.access_key_secret", creds.AccessKeySecret)
	repl.Set("http.auth.sts.security_token", creds.SecurityToken)
	repl.Set("http.auth.sts.expiration", exp)
	repl.Set("http.auth.sts.role_arn", role)
}

// denySTS answers an exchange that failed, as the table in docs/CONTRACT.md
// ("What a caller sees") says. Bodies carry the STS code and request ID,
// never a token or a secret.
func (h *Handler) denySTS(w http.ResponseWriter, r *http.Request, provider string, err error) error {
	if errors.Is(err, errNoRole) {
		h.decide(r, decision.ReasonSTSForbidden, provider, "no_role")
		return refuse(w, r, challengeDenial(r, http.StatusForbidden, decision.ReasonSTSForbidden, challenge{errCode: "access_denied", description: errNoRole.Error(), headerError: "insufficient_scope"}, nil))
	}
	var se *sts.Error
	if !errors.As(err, &se) {
		se = &sts.Error{Kind: sts.Unavailable, Code: "edgeauth.ExchangeFailed", Message: "the exchange failed"}
	}
	extra := &errorBody{Code: se.Code, RequestID: se.RequestID}
	reason := decision.ReasonForSTSError(se)
	h.decide(r, reason, provider, "")
	switch se.Kind {
	case sts.InvalidToken:
		desc := "the security token service refused the token"
		if strings.HasPrefix(se.Code, "edgeauth.") {
			desc = se.Message // the gateway's own refusal, before any exchange
		}
		return refuse(w, r, challengeDenial(r, http.StatusUnauthorized, reason, challenge{errCode: "invalid_token", description: desc, inHeader: true}, extra))
	case sts.Forbidden:
		return refuse(w, r, challengeDenial(r, http.StatusForbidden, reason, challenge{errCode: "access_denied", description: "the security token service denied the role", headerError: "insufficient_scope"}, extra))
	case sts.Misconfigured:
		h.logger.Error("the security token service refused the gateway's request: check the sts settings",
			zap.String("sts", h.exchange.svc.name), zap.String("code", se.Code), zap.String("request_id", se.RequestID), zap.String("message", se.Message))
		return refuse(w, r, jsonDenial(http.StatusBadGateway, reason, errorBody{Error: "sts_misconfigured", Description: "the gateway's STS settings were refused"}, extra))
	default:
		return refuse(w, r, unavailableDenial(reason, "sts_unavailable", "the security token service is unavailable", se.RetryAfter, extra))
	}
}

// workloadRefusal turns the STS refusing the gateway's own token (invalid
// token, or a role that does not trust it) into a configuration error: the
// caller's credential is not at fault, so the answer is 502
// sts_misconfigured with an error log, never a 401 or 403 that would send a
// client to sign in again.
func workloadRefusal(err error) error {
	var se *sts.Error
	if !errors.As(err, &se) || (se.Kind != sts.InvalidToken && se.Kind != sts.Forbidden) {
		return err
	}
	cp := *se
	cp.Kind = sts.Misconfigured
	return &cp
}
