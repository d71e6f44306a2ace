package dpop

import "time"

// Error codes of a refused proof, as RFC 9449 §7.1 and §9 name them in the
// `WWW-Authenticate: DPoP` challenge.
const (
	// CodeInvalidProof: the proof is missing, malformed or does not fit the
	// request or the token.
	CodeInvalidProof = "invalid_dpop_proof"
	// CodeUseNonce: the server wants a proof with its current nonce (sent
	// in the DPoP-Nonce response header).
	CodeUseNonce = "use_dpop_nonce"
)

// Error is a refused proof. Description is the gateway's own prose, safe to
// send as error_description: it never holds proof or token data. Detail is a
// stable low-cardinality code for metrics and the decision log.
type Error struct {
	// Code is CodeInvalidProof or CodeUseNonce.
	Code string
	// Description is a short explanation for the client.
	Description string
	// Detail is a fixed code: malformed, too_large, wrong_type, algorithm,
	// bad_key, private_key, bad_signature, wrong_method, wrong_url,
	// stale, future, wrong_token, wrong_key, replayed, nonce,
	// store_unavailable.
	Detail string
	// Unavailable means the proof could not be checked (the replay store
	// is down or full): answer 503 with RetryAfter, never accept.
	Unavailable bool
	// RetryAfter is set when Unavailable.
	RetryAfter time.Duration
}

// Error returns the description.
func (e *Error) Error() string { return e.Description }

func invalid(detail, desc string) *Error {
	return &Error{Code: CodeInvalidProof, Detail: detail, Description: desc}
}
