package token

import (
	"encoding/base64"
	"errors"
)

// DefaultMaxTokenSize is the largest token accepted (the STS limit for an
// OIDC token), in bytes.
const DefaultMaxTokenSize = 20000

// refusedHeaders would make the verifier fetch or trust key material chosen
// by the token itself.
var refusedHeaders = []string{"jwk", "jku", "x5u", "x5c"}

var b64 = base64.RawURLEncoding.Strict()

// parsed is a structurally valid, not yet verified JWS compact token.
type parsed struct {
	signingInput string // header.payload
	sig          []byte
	alg, kid     string
	typ          string // the header's typ, as sent
	hasTyp       bool
	claims       map[string]any
}

// parse checks size, shape and header, and decodes the claims. It verifies
// nothing cryptographic.
func parse(raw string, maxSize int) (*parsed, *Error) {
	if len(raw) > maxSize {
		return nil, invalid("token too large")
	}
	dot1, dot2 := -1, -1
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		case c == '.':
			switch {
			case dot1 < 0:
				dot1 = i
			case dot2 < 0:
				dot2 = i
			default:
				return nil, invalid("malformed token: want three dot-separated parts")
			}
		default:
			return nil, invalid("malformed token: unexpected character")
		}
	}
	if dot2 < 0 {
		return nil, invalid("malformed token: want three dot-separated parts")
	}
	h64, p64, s64 := raw[:dot1], raw[dot1+1:dot2], raw[dot2+1:]
	if h64 == "" || p64 == "" {
		return nil, invalid("malformed token: empty part")
	}
	p := &parsed{signingInput: raw[:dot2]}
	if e := p.parseHeader(h64); e != nil {
		return nil, e
	}
	if s64 == "" {
		return nil, invalid("malformed token: missing signature")
	}
	sig, err := b64.DecodeString(s64)
	if err != nil {
		return nil, invalid("malformed token: signature is not base64url")
	}
	p.sig = sig
	payload, err := b64.DecodeString(p64)
	if err != nil {
		return nil, invalid("malformed token: payload is not base64url")
	}
	if !lossless(payload) {
		return nil, invalid("malformed token: payload is not valid UTF-8 or has a lone surrogate escape")
	}
	claims, err := decodeStrict(payload)
	if errors.Is(err, errDuplicateMember) {
		return nil, invalid("malformed token: payload has a duplicate member name")
	}
	if err != nil {
		return nil, invalid("malformed token: payload is not a JSON object")
	}
	p.claims = claims
	return p, nil
}

func (p *parsed) parseHeader(h64 string) *Error {
	hb, err := b64.DecodeString(h64)
	if err != nil {
		return invalid("malformed token: header is not base64url")
	}
	hdr, err := decodeStrict(hb)
	if errors.Is(err, errDuplicateMember) {
		return invalid("malformed token: header has a duplicate member name")
	}
	if err != nil {
		return invalid("malformed token: header is not a JSON object")
	}
	for _, name := range refusedHeaders {
		if _, ok := hdr[name]; ok {
			return invalid("header " + name + " not allowed")
		}
	}
	if _, ok := hdr["crit"]; ok {
		return invalid("critical header extensions not supported")
	}
	rawAlg, ok := hdr["alg"]
	if !ok {
		return invalid("malformed token: header has no alg")
	}
	if p.alg, ok = rawAlg.(string); !ok || p.alg == "" {
		return invalid("malformed token: header alg is not a string")
	}
	if rawKid, ok := hdr["kid"]; ok {
		if p.kid, ok = rawKid.(string); !ok {
			return invalid("malformed token: header kid is not a string")
		}
	}
	if rawTyp, ok := hdr["typ"]; ok {
		if p.typ, ok = rawTyp.(string); !ok {
			return invalid("malformed token: header typ is not a string")
		}
		p.hasTyp = true
	}
	return nil
}
