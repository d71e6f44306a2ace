package dpop

import (
	"crypto"
	"encoding/base64"
	"errors"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/token"
)

// DefaultMaxProofSize is the largest proof read, in bytes. A proof with an
// RSA-4096 key is about 1.5 KB; anything larger is refused before any
// decoding.
const DefaultMaxProofSize = 4096

// maxJTILen bounds the jti (RFC 9449 asks for at least 96 bits of
// randomness; 256 bytes leaves room for any encoding of that).
const maxJTILen = 256

// ProofType is the JWS `typ` of a DPoP proof, compared exactly.
const ProofType = "dpop+jwt"

var b64 = base64.RawURLEncoding.Strict()

// Proof is a structurally valid DPoP proof whose signature has not been
// checked yet.
type Proof struct {
	// Alg is the JWS algorithm.
	Alg string
	// Key is the public key of the `jwk` header.
	Key crypto.PublicKey
	// JTI, HTM, HTU, ATH and Nonce are the claims as sent (Nonce and ATH
	// may be empty when absent).
	JTI, HTM, HTU, ATH, Nonce string
	// IAT is the issue time.
	IAT time.Time

	signingInput string
	sig          []byte
	jkt          string // the key's thumbprint, when the header came from the cache
}

// refusedHeaders name key material by reference or extensions this checker
// does not implement: a proof carries its key in `jwk` and nothing else.
var refusedHeaders = []string{"jku", "x5u", "x5c", "crit"}

// parse checks a proof's size, shape, header and claims and builds its key.
// It verifies nothing cryptographic (see Checker.Check). maxSize <= 0 means
// DefaultMaxProofSize; headers is an optional cache of parsed headers.
func parse(raw string, maxSize int, headers *headerCache) (*Proof, *Error) {
	if maxSize <= 0 {
		maxSize = DefaultMaxProofSize
	}
	if len(raw) > maxSize {
		return nil, invalid("too_large", "DPoP proof too large")
	}
	dot1, dot2 := -1, -1
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		case c == '.' && dot1 < 0:
			dot1 = i
		case c == '.' && dot2 < 0:
			dot2 = i
		default:
			return nil, invalid("malformed", "malformed DPoP proof: not a compact JWS")
		}
	}
	if dot2 < 0 || dot1 == 0 || dot2 == dot1+1 || dot2 == len(raw)-1 {
		return nil, invalid("malformed", "malformed DPoP proof: not a compact JWS")
	}
	p := &Proof{signingInput: raw[:dot2]}
	h64 := raw[:dot1]
	if h, ok := headers.get(h64); ok {
		p.Alg, p.Key, p.jkt = h.alg, h.key, h.jkt
	} else {
		hdr, e := decodePart(h64, "header")
		if e != nil {
			return nil, e
		}
		if e := p.readHeader(hdr); e != nil {
			return nil, e
		}
		headers.put(h64, parsedHeader{alg: p.Alg, key: p.Key, jkt: Thumbprint(p.Key)})
	}
	claims, e := decodePart(raw[dot1+1:dot2], "payload")
	if e != nil {
		return nil, e
	}
	if e := p.readClaims(claims); e != nil {
		return nil, e
	}
	sig, err := b64.DecodeString(raw[dot2+1:])
	if err != nil {
		return nil, invalid("malformed", "malformed DPoP proof: signature is not base64url")
	}
	p.sig = sig
	return p, nil
}

// decodePart decodes one base64url part as a strict JSON object.
func decodePart(part, name string) (map[string]any, *Error) {
	b, err := b64.DecodeString(part)
	if err != nil {
		return nil, invalid("malformed", "malformed DPoP proof: "+name+" is not base64url")
	}
	m, err := token.DecodeClaims(b)
	switch {
	case errors.Is(err, token.ErrDuplicateMember):
		return nil, invalid("malformed", "malformed DPoP proof: "+name+" has a duplicate member name")
	case errors.Is(err, token.ErrLossyJSON):
		return nil, invalid("malformed", "malformed DPoP proof: "+name+" is not valid UTF-8 or has a lone surrogate escape")
	case err != nil:
		return nil, invalid("malformed", "malformed DPoP proof: "+name+" is not a JSON object")
	}
	return m, nil
}

func (p *Proof) readHeader(hdr map[string]any) *Error {
	typ, ok := hdr["typ"].(string)
	if !ok || typ != ProofType {
		return invalid("wrong_type", "DPoP proof typ must be dpop+jwt")
	}
	for _, name := range refusedHeaders {
		if _, present := hdr[name]; present {
			return invalid("malformed", "DPoP proof header "+name+" not allowed")
		}
	}
	alg, ok := hdr["alg"].(string)
	if !ok || alg == "" {
		return invalid("malformed", "malformed DPoP proof: header has no alg")
	}
	if _, ok := token.SigningMethod(alg); !ok {
		return invalid("algorithm", "DPoP proof algorithm not allowed (an asymmetric signature is required)")
	}
	p.Alg = alg
	jwk, ok := hdr["jwk"].(map[string]any)
	if !ok {
		return invalid("bad_key", "DPoP proof has no jwk header")
	}
	key, e := publicKey(jwk, alg)
	if e != nil {
		return e
	}
	p.Key = key
	return nil
}

func (p *Proof) readClaims(c map[string]any) *Error {
	var ok bool
	if p.JTI, ok = c["jti"].(string); !ok || p.JTI == "" || len(p.JTI) > maxJTILen {
		return invalid("malformed", "DPoP proof has no valid jti")
	}
	if p.HTM, ok = c["htm"].(string); !ok {
		return invalid("malformed", "DPoP proof has no htm")
	}
	if p.HTU, ok = c["htu"].(string); !ok {
		return invalid("malformed", "DPoP proof has no htu")
	}
	iat, present := c["iat"]
	if !present {
		return invalid("malformed", "DPoP proof has no iat")
	}
	if p.IAT, ok = token.NumericDate(iat); !ok {
		return invalid("malformed", "DPoP proof iat is not a valid date")
	}
	if v, present := c["ath"]; present {
		if p.ATH, ok = v.(string); !ok {
			return invalid("malformed", "DPoP proof ath is not a string")
		}
	}
	if v, present := c["nonce"]; present {
		if p.Nonce, ok = v.(string); !ok || p.Nonce == "" {
			return invalid("malformed", "DPoP proof nonce is not a string")
		}
	}
	return nil
}
