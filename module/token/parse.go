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
	p := new(parsed)
	if e := p.parse(raw, maxSize); e != nil {
		return nil, e
	}
	return p, nil
}

// stackDecoded is the size up to which a header or payload is decoded from
// base64 into a buffer on the stack, saving an allocation per part.
const stackDecoded = 2048

// decodePart decodes one base64url part into a string.
func decodePart(part string) (string, error) {
	var buf [stackDecoded]byte
	if b64.DecodedLen(len(part)) > len(buf) {
		b, err := b64.DecodeString(part)
		return string(b), err
	}
	n, err := b64.Decode(buf[:], []byte(part))
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// parse is parse into p, so that a caller can keep p on its stack.
func (p *parsed) parse(raw string, maxSize int) *Error {
	if len(raw) > maxSize {
		return invalid(CodeTooLarge, "token too large")
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
				return invalid(CodeMalformed, "malformed token: want three dot-separated parts")
			}
		default:
			return invalid(CodeMalformed, "malformed token: unexpected character")
		}
	}
	if dot2 < 0 {
		return invalid(CodeMalformed, "malformed token: want three dot-separated parts")
	}
	h64, p64, s64 := raw[:dot1], raw[dot1+1:dot2], raw[dot2+1:]
	if h64 == "" || p64 == "" {
		return invalid(CodeMalformed, "malformed token: empty part")
	}
	*p = parsed{signingInput: raw[:dot2]}
	if e := p.parseHeader(h64); e != nil {
		return e
	}
	if s64 == "" {
		return invalid(CodeMalformed, "malformed token: missing signature")
	}
	sig, err := b64.DecodeString(s64)
	if err != nil {
		return invalid(CodeMalformed, "malformed token: signature is not base64url")
	}
	p.sig = sig
	payload, err := decodePart(p64)
	if err != nil {
		return invalid(CodeMalformed, "malformed token: payload is not base64url")
	}
	if !lossless(payload) {
		return invalid(CodeMalformed, "malformed token: payload is not valid UTF-8 or has a lone surrogate escape")
	}
	claims, err := decodeStrictString(payload)
	if errors.Is(err, errDuplicateMember) {
		return invalid(CodeDuplicateMember, "malformed token: payload has a duplicate member name")
	}
	if err != nil {
		return invalid(CodeMalformed, "malformed token: payload is not a JSON object")
	}
	p.claims = claims
	return nil
}

func (p *parsed) parseHeader(h64 string) *Error {
	hb, err := decodePart(h64)
	if err != nil {
		return invalid(CodeMalformed, "malformed token: header is not base64url")
	}
	d := getDecoder(hb)
	defer d.release()
	hdr, err := d.header()
	if errors.Is(err, errDuplicateMember) {
		return invalid(CodeDuplicateMember, "malformed token: header has a duplicate member name")
	}
	if err != nil {
		return invalid(CodeMalformed, "malformed token: header is not a JSON object")
	}
	// Names are unique (duplicates are refused above), so the first member
	// of a name is the only one.
	var alg, kid, typ *member
	crit := false
	for i := range hdr {
		m := &hdr[i]
		switch m.name {
		case "crit":
			crit = true
		case "alg":
			alg = m
		case "kid":
			kid = m
		case "typ":
			typ = m
		}
	}
	for _, name := range refusedHeaders {
		for i := range hdr {
			if hdr[i].name == name {
				return invalid(CodeHeaderNotAllowed, "header "+name+" not allowed")
			}
		}
	}
	if crit {
		return invalid(CodeHeaderNotAllowed, "critical header extensions not supported")
	}
	if alg == nil {
		return invalid(CodeMalformed, "malformed token: header has no alg")
	}
	if !alg.isStr || alg.str == "" {
		return invalid(CodeMalformed, "malformed token: header alg is not a string")
	}
	p.alg = alg.str
	if kid != nil {
		if !kid.isStr {
			return invalid(CodeMalformed, "malformed token: header kid is not a string")
		}
		p.kid = kid.str
	}
	if typ != nil {
		if !typ.isStr {
			return invalid(CodeMalformed, "malformed token: header typ is not a string")
		}
		p.typ, p.hasTyp = typ.str, true
	}
	return nil
}
