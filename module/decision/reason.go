package decision

import (
	"errors"

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
	// ReasonInvalidDPoPProof (deny): a DPoP-bound token came without a
	// valid proof (missing, two, malformed, for another request, token or
	// key, replayed, stale).
	ReasonInvalidDPoPProof
	// ReasonUseDPoPNonce (deny): the provider wants server nonces and the
	// proof had no current one (the answer carries DPoP-Nonce).
	ReasonUseDPoPNonce
	// ReasonAssertionUnavailable (unavailable): the route sends a signed
	// identity assertion and no key could sign it (storage unreachable, or
	// the stored key set is damaged).
	ReasonAssertionUnavailable

	// NumReasons is how many reasons there are: the length of an array
	// indexed by Reason.
	NumReasons = iota
)

var reasonInfo = [NumReasons]struct {
	name    string
	outcome Outcome
}{
	ReasonPublic:               {"public", OutcomeAllow},
	ReasonAuthorized:           {"authorized", OutcomeAllow},
	ReasonSession:              {"session", OutcomeAllow},
	ReasonNoCredential:         {"no_credential", OutcomeDeny},
	ReasonInvalidToken:         {"invalid_token", OutcomeDeny},
	ReasonKeysUnavailable:      {"keys_unavailable", OutcomeUnavailable},
	ReasonInsufficientScope:    {"insufficient_scope", OutcomeDeny},
	ReasonClaimMismatch:        {"claim_mismatch", OutcomeDeny},
	ReasonSTSInvalidToken:      {"sts_invalid_token", OutcomeDeny},
	ReasonSTSForbidden:         {"sts_forbidden", OutcomeDeny},
	ReasonSTSMisconfigured:     {"sts_misconfigured", OutcomeError},
	ReasonSTSUnavailable:       {"sts_unavailable", OutcomeUnavailable},
	ReasonLoginRedirect:        {"login_redirect", OutcomeRedirect},
	ReasonRefreshFailed:        {"refresh_failed", OutcomeDeny},
	ReasonStoreUnavailable:     {"store_unavailable", OutcomeUnavailable},
	ReasonInvalidPath:          {"invalid_path", OutcomeDeny},
	ReasonOptionalAnonymous:    {"optional_anonymous", OutcomeAllow},
	ReasonInvalidDPoPProof:     {"invalid_dpop_proof", OutcomeDeny},
	ReasonUseDPoPNonce:         {"use_dpop_nonce", OutcomeDeny},
	ReasonAssertionUnavailable: {"assertion_unavailable", OutcomeUnavailable},
}

// String returns the label value, e.g. "invalid_token".
func (r Reason) String() string {
	if int(r) < NumReasons {
		return reasonInfo[r].name
	}
	return "unknown"
}

// Outcome returns the outcome the reason implies.
func (r Reason) Outcome() Outcome {
	if int(r) < NumReasons {
		return reasonInfo[r].outcome
	}
	return OutcomeDeny
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

// TokenErrorDetail returns a stable, low-cardinality code for a token
// verification error, finer than its Reason: the token.Code the error was
// made with (expired, bad_signature, rate_limited, ...; see token.Code), or
// "other" for an error without one or one that is not a *token.Error. It is
// meant for the decision log; it never reads the error's wording and never
// returns text taken from the token.
func TokenErrorDetail(err error) string {
	var te *token.Error
	if !errors.As(err, &te) {
		return string(token.CodeOther)
	}
	return te.Code.String()
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

	// NumSTSResults is how many STS results there are: the length of an
	// array indexed by STSResult.
	NumSTSResults = iota
)

var stsResultNames = [NumSTSResults]string{"ok", "invalid_token", "forbidden", "misconfigured", "unavailable"}

// String returns the label value.
func (s STSResult) String() string {
	if int(s) < NumSTSResults {
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
