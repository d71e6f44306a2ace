package assertion

import (
	"errors"
	"fmt"
)

// Reasons Verify refuses an assertion. Every error Verify returns wraps
// exactly one of them (test with errors.Is); the error's text adds a fixed
// detail and never contains token content.
var (
	// ErrMissing is an empty assertion (the middleware: no header).
	ErrMissing = errors.New("no assertion")
	// ErrTooLarge is an assertion longer than the size limit; it is refused
	// before any decoding.
	ErrTooLarge = errors.New("assertion too large")
	// ErrMalformed is anything that is not a compact JWS with JSON objects
	// for header and claims, including a duplicate JSON member name.
	ErrMalformed = errors.New("malformed assertion")
	// ErrType is a header typ other than JWT.
	ErrType = errors.New("wrong assertion type")
	// ErrAlgorithm is an alg outside the allowed list (always including
	// "none" and the HMAC algorithms), or a key unfit for the alg.
	ErrAlgorithm = errors.New("algorithm not allowed")
	// ErrHeader is a header the verifier refuses: crit, or an embedded or
	// remote key (jwk, jku, x5u, x5c).
	ErrHeader = errors.New("assertion header refused")
	// ErrUnknownKey is a kid that none of the gateway's keys has, even
	// after a refetch (or while the refetch cooldown runs).
	ErrUnknownKey = errors.New("unknown signing key")
	// ErrKeysUnavailable means the gateway's keys could not be loaded at
	// all (discovery or JWKS failed and no earlier keys exist). It is an
	// outage, not a bad assertion: the middleware answers 503.
	ErrKeysUnavailable = errors.New("assertion keys unavailable")
	// ErrSignature is a signature that does not verify.
	ErrSignature = errors.New("bad signature")
	// ErrIssuer is an iss other than the configured issuer.
	ErrIssuer = errors.New("wrong issuer")
	// ErrAudience is an aud other than the configured audience.
	ErrAudience = errors.New("wrong audience")
	// ErrMissingClaim is an assertion without sub, iat or exp.
	ErrMissingClaim = errors.New("missing claim")
	// ErrInvalidClaim is a claim of the wrong JSON type or out of range.
	ErrInvalidClaim = errors.New("invalid claim")
	// ErrExpired is an assertion past exp (plus the clock skew).
	ErrExpired = errors.New("assertion expired")
	// ErrNotYetValid is an assertion whose iat or nbf lies in the future
	// (beyond the clock skew).
	ErrNotYetValid = errors.New("assertion not yet valid")
	// ErrLifetime is an assertion whose exp lies more than the maximum
	// lifetime after its iat.
	ErrLifetime = errors.New("assertion lifetime too long")
)

// refuse wraps kind with a fixed detail text. detail must never hold token
// content (only names of claims or headers, or configuration values).
func refuse(kind error, detail string) error {
	if detail == "" {
		return kind
	}
	return fmt.Errorf("%w: %s", kind, detail)
}
