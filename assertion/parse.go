package assertion

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
)

var b64 = base64.RawURLEncoding.Strict()

// refusedHeaders would make a verifier trust or fetch key material that the
// assertion itself names.
var refusedHeaders = []string{"jwk", "jku", "x5u", "x5c"}

// jws is a structurally valid compact JWS whose signature is not yet
// checked.
type jws struct {
	signingInput string // header.payload as sent
	payload      string // base64url, decoded only after the signature
	sig          []byte
	alg, kid     string
}

// parseCompact checks the shape and the header of a compact JWS. raw's
// length has been checked by the caller; the signature may be empty.
func parseCompact(raw string) (*jws, error) {
	if raw == "" {
		return nil, ErrMissing
	}
	dot1, dot2 := -1, -1
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		case c == '.' && dot1 < 0:
			dot1 = i
		case c == '.' && dot2 < 0:
			dot2 = i
		default:
			return nil, refuse(ErrMalformed, "want three base64url parts separated by dots")
		}
	}
	if dot2 < 0 || dot1 == 0 || dot2 == dot1+1 {
		return nil, refuse(ErrMalformed, "want three non-empty base64url parts separated by dots")
	}
	hb, err := b64.DecodeString(raw[:dot1])
	if err != nil {
		return nil, refuse(ErrMalformed, "header is not base64url")
	}
	t := &jws{signingInput: raw[:dot2], payload: raw[dot1+1 : dot2]}
	if err := t.readHeader(hb); err != nil {
		return nil, err
	}
	// An empty signature is refused by Verify after the alg check, so that
	// an unsigned "alg":"none" token is named for its alg.
	if t.sig, err = b64.DecodeString(raw[dot2+1:]); err != nil {
		return nil, refuse(ErrMalformed, "signature is not base64url")
	}
	return t, nil
}

// readHeader checks typ, crit and embedded keys, and takes alg and kid.
func (t *jws) readHeader(b []byte) error {
	h, err := decodeObject(b)
	if err != nil {
		return refuse(ErrMalformed, "header: "+jsonProblem(err))
	}
	for _, name := range refusedHeaders {
		if _, ok := h[name]; ok {
			return refuse(ErrHeader, "header names a key ("+name+")")
		}
	}
	if _, ok := h["crit"]; ok {
		return refuse(ErrHeader, "header has crit, and no extension is supported")
	}
	typ, ok := stringMember(h, "typ")
	if !ok {
		return refuse(ErrType, "header has no string typ")
	}
	if !isJWTType(typ) {
		return refuse(ErrType, "typ is not JWT")
	}
	if t.alg, ok = stringMember(h, "alg"); !ok || t.alg == "" {
		return refuse(ErrMalformed, "header has no string alg")
	}
	if t.kid, ok = stringMember(h, "kid"); !ok || t.kid == "" {
		return refuse(ErrMalformed, "header has no string kid")
	}
	return nil
}

// isJWTType reports whether typ names JWT: media types compare
// case-insensitively, and RFC 7515 §4.1.9 lets "application/" be left out.
func isJWTType(typ string) bool {
	return strings.EqualFold(typ, "JWT") || strings.EqualFold(typ, "application/jwt")
}

// stringMember returns member name of m when it is a JSON string.
func stringMember(m map[string]json.RawMessage, name string) (string, bool) {
	raw, ok := m[name]
	if !ok {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil || len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	return s, true
}

// jsonProblem names what decodeObject refused, without quoting the input.
func jsonProblem(err error) string {
	switch {
	case errors.Is(err, errDuplicate):
		return "duplicate member name"
	case errors.Is(err, errTooDeep):
		return "nested too deeply"
	}
	return "not one JSON object in UTF-8"
}
