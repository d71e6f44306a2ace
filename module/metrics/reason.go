package metrics

import (
	"errors"
	"strings"

	"github.com/edgeauth/caddy-edgeauth/module/sts"
	"github.com/edgeauth/caddy-edgeauth/module/token"
)

// Outcome is what a request was answered with. Each Reason has exactly one
// Outcome, so the pair is never inconsistent.
type Outcome uint8

// Outcomes, as the `outcome` label spells them.
const (
	// OutcomeAllow: the request went on to the next handler.
	OutcomeAllow Outcome = iota
	// OutcomeDeny: 401 or 403.
	OutcomeDeny
	// OutcomeRedirect: a browser was sent to the provider to log in.
	OutcomeRedirect
	// OutcomeUnavailable: 503 with Retry-After (keys not loaded, STS down).
	OutcomeUnavailable
	// OutcomeError: 502, the gateway's own configuration is wrong.
	OutcomeError
)

var outcomeNames = [...]string{"allow", "deny", "redirect", "unavailable", "error"}

// String returns the label value.
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "unknown"
}

// Reason is a stable, low-cardinality code for why a request was allowed or
// refused. It is the `reason` label of decisions_total and the `reason`
// field of the decision log. The set is closed: adding one is a change to
// this package, never a value computed from a request.
type Reason uint8

// Reasons. The comment gives the outcome each one implies.
const (
	// ReasonPublic (allow): a public route, no identity needed.
	ReasonPublic Reason = iota
	// ReasonAuthorized (allow): a valid bearer token that satisfies the rules.
	ReasonAuthorized
	// ReasonSession (allow): a valid session cookie that satisfies the rules.
	ReasonSession
	// ReasonNoCredential (deny): no bearer token and no session.
	ReasonNoCredential
	// ReasonInvalidToken (deny): the token failed verification.
	ReasonInvalidToken
	// ReasonKeysUnavailable (unavailable): the provider's keys are not loaded.
	ReasonKeysUnavailable
	// ReasonInsufficientScope (deny): a scope rule failed.
	ReasonInsufficientScope
	// ReasonClaimMismatch (deny): a claim rule failed.
	ReasonClaimMismatch
	// ReasonSTSInvalidToken (deny): the STS refused the caller's token.
	ReasonSTSInvalidToken
	// ReasonSTSForbidden (deny): the STS role does not trust the caller.
	ReasonSTSForbidden
	// ReasonSTSMisconfigured (error): the gateway's STS settings are wrong.
	ReasonSTSMisconfigured
	// ReasonSTSUnavailable (unavailable): the STS is down, slow or throttling.
	ReasonSTSUnavailable
	// ReasonLoginRedirect (redirect): a browser was sent to log in.
	ReasonLoginRedirect
	// ReasonRefreshFailed (deny): the session expired and could not be
	// refreshed.
	ReasonRefreshFailed
	// ReasonStoreUnavailable (unavailable): the session store (Redis) could
	// not be reached.
	ReasonStoreUnavailable
	// ReasonInvalidPath (deny): the request path has bytes or segments that
	// an upstream may read otherwise than the rules (policy.CheckPath).
	ReasonInvalidPath
	// ReasonOptionalAnonymous (allow): an optional path passed without an
	// identity (no credential, or a session that has ended).
	ReasonOptionalAnonymous

	numReasons = iota
)

var reasonInfo = [numReasons]struct {
	name    string
	outcome Outcome
}{
	ReasonPublic:            {"public", OutcomeAllow},
	ReasonAuthorized:        {"authorized", OutcomeAllow},
	ReasonSession:           {"session", OutcomeAllow},
	ReasonNoCredential:      {"no_credential", OutcomeDeny},
	ReasonInvalidToken:      {"invalid_token", OutcomeDeny},
	ReasonKeysUnavailable:   {"keys_unavailable", OutcomeUnavailable},
	ReasonInsufficientScope: {"insufficient_scope", OutcomeDeny},
	ReasonClaimMismatch:     {"claim_mismatch", OutcomeDeny},
	ReasonSTSInvalidToken:   {"sts_invalid_token", OutcomeDeny},
	ReasonSTSForbidden:      {"sts_forbidden", OutcomeDeny},
	ReasonSTSMisconfigured:  {"sts_misconfigured", OutcomeError},
	ReasonSTSUnavailable:    {"sts_unavailable", OutcomeUnavailable},
	ReasonLoginRedirect:     {"login_redirect", OutcomeRedirect},
	ReasonRefreshFailed:     {"refresh_failed", OutcomeDeny},
	ReasonStoreUnavailable:  {"store_unavailable", OutcomeUnavailable},
	ReasonInvalidPath:       {"invalid_path", OutcomeDeny},
	ReasonOptionalAnonymous: {"optional_anonymous", OutcomeAllow},
}

// String returns the label value, e.g. "invalid_token".
func (r Reason) String() string {
	if int(r) < numReasons {
		return reasonInfo[r].name
	}
	return "unknown"
}

// Outcome returns the outcome the reason implies.
func (r Reason) Outcome() Outcome {
	if int(r) < numReasons {
		return reasonInfo[r].outcome
	}
	return OutcomeDeny
}

// Reasons returns every reason, in order.
func Reasons() []Reason {
	out := make([]Reason, numReasons)
	for i := range out {
		out[i] = Reason(i)
	}
	return out
}

// ReasonForTokenError maps an error from token verification to
// ReasonKeysUnavailable (the token could not be checked yet: keys not
// loaded, or an opaque token's provider unreachable or past opaque_rate;
// TokenErrorDetail tells these apart) or
// ReasonInvalidToken (everything else, so that an unknown error fails
// closed).
func ReasonForTokenError(err error) Reason {
	var te *token.Error
	if errors.As(err, &te) && te.Kind == token.Unavailable {
		return ReasonKeysUnavailable
	}
	return ReasonInvalidToken
}

// ReasonForSTSError maps an exchange error to its reason:
// sts_invalid_token, sts_forbidden, sts_misconfigured or sts_unavailable
// (also for an error that is not an *sts.Error).
func ReasonForSTSError(err error) Reason {
	switch STSResultFor(err) {
	case STSInvalidToken:
		return ReasonSTSInvalidToken
	case STSForbidden:
		return ReasonSTSForbidden
	case STSMisconfigured:
		return ReasonSTSMisconfigured
	default:
		return ReasonSTSUnavailable
	}
}

// tokenDetails maps token.Error descriptions (by prefix) to stable detail
// codes. Descriptions are written by the token package; a test there-by
// proxy (reason_test.go) runs the real verifier to keep this table honest.
var tokenDetails = []struct{ prefix, code string }{
	{"token type", "wrong_type"},
	{"token has no typ", "wrong_type"},
	{"token is a security event token", "wrong_type"},
	{"not an access token", "wrong_type"},
	{"sender-constrained token", "sender_constrained"},
	{"malformed token: payload has a duplicate member", "duplicate_member"},
	{"malformed token: header has a duplicate member", "duplicate_member"},
	{"too many unknown tokens", "rate_limited"},
	{"token was issued to another client", "audience_not_accepted"},
	{"the provider's answer names no audience", "audience_not_accepted"},
	{"token rejected by the provider", "rejected_by_provider"},
	{"the provider could not check", "provider_unavailable"},
	{"token expired", "expired"},
	{"token not yet valid", "not_yet_valid"},
	{"token issued in the future", "issued_in_future"},
	{"token too old", "too_old"},
	{"token too large", "too_large"},
	{"invalid signature", "bad_signature"},
	{"unknown signing key", "unknown_key"},
	{"issuer not trusted", "issuer_not_trusted"},
	{"audience not accepted", "audience_not_accepted"},
	{"algorithm ", "algorithm_not_allowed"},
	{"signing key does not fit", "algorithm_not_allowed"},
	{"no signing key fits", "algorithm_not_allowed"},
	{"malformed token", "malformed"},
	{"header ", "header_not_allowed"},
	{"critical header", "header_not_allowed"},
	{"token has no ", "missing_claim"},
	{"invalid ", "invalid_claim"},
	{"signing key", "keys_unavailable"},
}

// TokenErrorDetail returns a stable, low-cardinality code for a token
// verification error, finer than its Reason: expired, not_yet_valid,
// issued_in_future, too_old, too_large, bad_signature, unknown_key,
// issuer_not_trusted, audience_not_accepted, algorithm_not_allowed,
// malformed, duplicate_member, header_not_allowed, missing_claim,
// invalid_claim, wrong_type, sender_constrained, keys_unavailable, rate_limited (opaque tokens
// past opaque_rate), rejected_by_provider, provider_unavailable, or other. It is meant for the decision log; it never
// returns text taken from the token.
func TokenErrorDetail(err error) string {
	var te *token.Error
	if !errors.As(err, &te) {
		return "other"
	}
	for _, d := range tokenDetails {
		if strings.HasPrefix(te.Description, d.prefix) {
			return d.code
		}
	}
	return "other"
}

// STSResult is the `result` label of sts_exchanges_total.
type STSResult uint8

// STS exchange results.
const (
	// STSOK: credentials were issued.
	STSOK STSResult = iota
	// STSInvalidToken: the STS refused the caller's token.
	STSInvalidToken
	// STSForbidden: the role does not trust the caller.
	STSForbidden
	// STSMisconfigured: the gateway's STS settings are wrong.
	STSMisconfigured
	// STSUnavailable: down, throttled, timed out or unreadable.
	STSUnavailable

	numSTSResults = iota
)

var stsResultNames = [numSTSResults]string{"ok", "invalid_token", "forbidden", "misconfigured", "unavailable"}

// String returns the label value.
func (s STSResult) String() string {
	if int(s) < numSTSResults {
		return stsResultNames[s]
	}
	return "unknown"
}

// STSResultFor maps an exchange's error to its result: nil is STSOK, an
// *sts.Error by its Kind, anything else STSUnavailable.
func STSResultFor(err error) STSResult {
	if err == nil {
		return STSOK
	}
	var se *sts.Error
	if !errors.As(err, &se) {
		return STSUnavailable
	}
	switch se.Kind {
	case sts.InvalidToken:
		return STSInvalidToken
	case sts.Forbidden:
		return STSForbidden
	case sts.Misconfigured:
		return STSMisconfigured
	default:
		return STSUnavailable
	}
}
