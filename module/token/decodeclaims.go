package token

import "errors"

// Errors of DecodeClaims.
var (
	// ErrLossyJSON is text that would not decode as written: invalid UTF-8
	// or an escaped lone UTF-16 surrogate.
	ErrLossyJSON = errors.New("JSON is not valid UTF-8 or has a lone surrogate escape")
	// ErrDuplicateMember is an object, at any depth, that repeats a member
	// name (after unescaping, under the case folding encoding/json applies
	// to struct fields).
	ErrDuplicateMember = errDuplicateMember
	// ErrNotJSONObject is text that is not exactly one JSON object.
	ErrNotJSONObject = errNotObject
)

// DecodeClaims decodes a JOSE header or a JWT claims set the way this
// package decodes the tokens it verifies: exactly one JSON object, numbers
// kept as json.Number, refused (with the errors above) when it would
// decode lossily or repeats a member name. Use it for other JWTs at the
// edge, such as DPoP proofs (BenchmarkDecodeDPoPProofParts measures it on
// one), so that they are read as strictly as bearer tokens.
func DecodeClaims(b []byte) (map[string]any, error) {
	s := string(b)
	if !lossless(s) {
		return nil, ErrLossyJSON
	}
	return decodeStrictString(s)
}
