package token

import "time"

// ErrorKind says how a verification failure should be answered.
type ErrorKind int

const (
	// Invalid means the token is not acceptable: answer 401 with
	// error="invalid_token". It is the zero value, so an Error without a
	// kind fails closed.
	Invalid ErrorKind = iota
	// Unavailable means the token could not be checked yet (the provider's
	// keys have not loaded): answer 503 with Retry-After.
	Unavailable
)

// String returns "invalid" or "unavailable".
func (k ErrorKind) String() string {
	if k == Unavailable {
		return "unavailable"
	}
	return "invalid"
}

// DefaultRetryAfter is the Retry-After suggested while keys are not loaded.
const DefaultRetryAfter = 10 * time.Second

// Error is a verification failure. Description is short, human-readable and
// safe to send to the client as error_description: it never contains the
// token or attacker-controlled claim values.
type Error struct {
	Kind ErrorKind
	// Code says why, for metrics and the decision log; set where the error
	// is made (see Code).
	Code        Code
	Description string
	// RetryAfter is set for Unavailable errors.
	RetryAfter time.Duration
}

// Error returns the description.
func (e *Error) Error() string { return e.Description }

func invalid(code Code, desc string) *Error {
	return &Error{Kind: Invalid, Code: code, Description: desc}
}

func unavailable(code Code, desc string) *Error {
	return &Error{Kind: Unavailable, Code: code, Description: desc, RetryAfter: DefaultRetryAfter}
}

// Code is a stable, low-cardinality name for why a token was refused,
// finer than its Kind. It is set where the error is made, never derived
// from the Description, so rewording a message changes no metric or log
// field. The decision log carries it as the `detail` field.
type Code string

// Codes. Each names one class of failure; the comment says which.
const (
	// CodeOther: none of the others (the zero value reads as this).
	CodeOther Code = "other"
	// CodeExpired: exp is past (beyond the clock skew).
	CodeExpired Code = "expired"
	// CodeNotYetValid: nbf is in the future.
	CodeNotYetValid Code = "not_yet_valid"
	// CodeIssuedInFuture: iat is in the future.
	CodeIssuedInFuture Code = "issued_in_future"
	// CodeTooOld: iat is older than the provider's max_token_age.
	CodeTooOld Code = "too_old"
	// CodeTooLarge: the token is longer than the provider accepts.
	CodeTooLarge Code = "too_large"
	// CodeBadSignature: the signature does not verify.
	CodeBadSignature Code = "bad_signature"
	// CodeUnknownKey: no key of the provider has the token's kid.
	CodeUnknownKey Code = "unknown_key"
	// CodeIssuerNotTrusted: iss names no configured provider.
	CodeIssuerNotTrusted Code = "issuer_not_trusted"
	// CodeAudienceNotAccepted: aud (or an opaque token's client) is not
	// one the provider accepts.
	CodeAudienceNotAccepted Code = "audience_not_accepted"
	// CodeAlgorithmNotAllowed: alg is not allowed, or no key fits it.
	CodeAlgorithmNotAllowed Code = "algorithm_not_allowed"
	// CodeMalformed: not a well-formed JWT (parts, base64url, JSON, UTF-8).
	CodeMalformed Code = "malformed"
	// CodeDuplicateMember: the header or payload repeats a member name.
	CodeDuplicateMember Code = "duplicate_member"
	// CodeHeaderNotAllowed: a header parameter the gateway refuses (crit,
	// embedded keys or key URLs).
	CodeHeaderNotAllowed Code = "header_not_allowed"
	// CodeMissingClaim: a required claim is absent.
	CodeMissingClaim Code = "missing_claim"
	// CodeInvalidClaim: a claim has the wrong JSON type or shape.
	CodeInvalidClaim Code = "invalid_claim"
	// CodeWrongType: the token is of another kind (typ, events claim, not
	// an access token).
	CodeWrongType Code = "wrong_type"
	// CodeSenderConstrained: a DPoP-bound token sent as a bearer token.
	CodeSenderConstrained Code = "sender_constrained"
	// CodeNotBound: a bearer token sent with the DPoP scheme.
	CodeNotBound Code = "not_bound"
	// CodeWrongCertificate: a certificate-bound token without its
	// client certificate.
	CodeWrongCertificate Code = "wrong_certificate"
	// CodeDPoPRequired: the provider accepts only DPoP-bound tokens.
	CodeDPoPRequired Code = "dpop_required"
	// CodeUnsupportedBinding: a confirmation method the gateway does not
	// check, or two at once.
	CodeUnsupportedBinding Code = "unsupported_binding"
	// CodeKeysUnavailable: the provider's keys are not loaded (Kind
	// Unavailable).
	CodeKeysUnavailable Code = "keys_unavailable"
	// CodeRateLimited: an opaque token past the provider's opaque_rate.
	CodeRateLimited Code = "rate_limited"
	// CodeRejectedByProvider: the provider said the opaque token is not
	// active.
	CodeRejectedByProvider Code = "rejected_by_provider"
	// CodeProviderUnavailable: the provider could not check an opaque
	// token.
	CodeProviderUnavailable Code = "provider_unavailable"
)

// String returns the code, or "other" for the zero value.
func (c Code) String() string {
	if c == "" {
		return string(CodeOther)
	}
	return string(c)
}
