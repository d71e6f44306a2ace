package token

import "errors"

// ErrLossyJSON is a JSON text that does not decode losslessly: invalid
// UTF-8, or an escaped lone UTF-16 surrogate, which encoding/json turns
// into U+FFFD.
var ErrLossyJSON = errors.New("JSON text is not valid UTF-8 or has a lone surrogate escape")

// ErrDuplicateMember is a JSON object that repeats a member name (compared
// after unescaping and under case folding).
var ErrDuplicateMember = errDuplicateMember

// DecodeStrictObject decodes b, which must be exactly one JSON object, under
// the rules this package applies to a JWS header and payload: the text must
// decode losslessly (ErrLossyJSON), no object at any depth may repeat a
// member name (ErrDuplicateMember), and numbers stay json.Number. Other
// packages that read signed JSON (the DPoP proof checker) use it so that
// one signed object never means two things.
func DecodeStrictObject(b []byte) (map[string]any, error) {
	if !lossless(b) {
		return nil, ErrLossyJSON
	}
	return decodeStrict(b)
}
