package token

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"unicode/utf8"
)

// decodeStrictStdlib is decodeStrict as it was before the one-pass decoder
// (strictjson.go): encoding/json decodes (and validates) the text with
// UseNumber, then repeatsMemberName scans the bytes once for repeated
// names. It is kept, unchanged, as the reference that the fuzz tests hold
// decodeStrict to, value for value and error class for error class.
func decodeStrictStdlib(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("not a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	if repeatsMemberName(b) {
		return nil, errDuplicateMember
	}
	return m, nil
}

// nameFrame is one open object or array while scanning.
type nameFrame struct {
	object bool
	start  int                 // the object's first name in the names stack
	set    map[string]struct{} // the object's folded names, once it is large
}

// repeatsMemberName reports whether some object in the JSON text b repeats
// a member name, comparing names as foldName sees them after unescaping
// (see decodeStrict). b must be text that encoding/json has accepted: the
// scan relies on its syntax and checks none of it.
//
// A name without escapes or non-ASCII bytes is compared where it lies in
// b, ignoring ASCII case, so the common token costs no allocation; other
// names are unescaped by encoding/json itself (the same replacement of
// invalid UTF-8 and lone surrogates that decoding applies) and folded.
func repeatsMemberName(b []byte) bool {
	var frameBuf [8]nameFrame
	var nameBuf [32][]byte
	frames, names := frameBuf[:0], nameBuf[:0]
	wantName := false // the next string is a member name
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '{':
			frames = append(frames, nameFrame{object: true, start: len(names)})
			wantName = true
		case '[':
			frames = append(frames, nameFrame{start: len(names)})
			wantName = false
		case '}', ']':
			names = names[:frames[len(frames)-1].start]
			frames = frames[:len(frames)-1]
			wantName = false
		case ',':
			wantName = frames[len(frames)-1].object
		case '"':
			end, plain := stringEnd(b, i)
			if wantName {
				name := b[i+1 : end]
				if !plain {
					name = foldedName(b[i : end+1])
				}
				f := &frames[len(frames)-1]
				if f.set == nil && len(names)-f.start < smallObject {
					for _, earlier := range names[f.start:] {
						if equalASCIIFold(earlier, name) {
							return true
						}
					}
					names = append(names, name)
				} else {
					if f.set == nil {
						f.set = make(map[string]struct{}, 2*smallObject)
						for _, earlier := range names[f.start:] {
							f.set[string(lowerASCII(earlier))] = struct{}{}
						}
						names = names[:f.start]
					}
					key := string(lowerASCII(name))
					if _, dup := f.set[key]; dup {
						return true
					}
					f.set[key] = struct{}{}
				}
				wantName = false
			}
			i = end
		}
	}
	return false
}

// stringEnd returns the index of the quote that closes the JSON string
// opening at b[open], and whether the string's bytes are its value as they
// stand (no escape, nothing outside ASCII).
func stringEnd(b []byte, open int) (end int, plain bool) {
	plain = true
	for i := open + 1; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i, plain
		case c == '\\':
			plain = false
			i++ // the escaped byte; \u's hex digits are neither quote nor backslash
		case c >= utf8.RuneSelf:
			plain = false
		}
	}
	return len(b), plain // unreachable for valid JSON
}

// foldedName is the folded value of the quoted JSON string q.
func foldedName(q []byte) []byte {
	var s string
	if err := json.Unmarshal(q, &s); err != nil {
		return q // unreachable for valid JSON; still compared, never skipped
	}
	f, _ := foldName(s)
	return []byte(f)
}

// equalASCIIFold reports whether a and b are equal once their ASCII upper-case
// letters are lowered. Folded names have none, and in UTF-8 the bytes 'A'..'Z'
// only ever stand for themselves, so for a raw ASCII name and a folded one
// this is equality of their folded forms.
func equalASCIIFold(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if lowerByte(a[i]) != lowerByte(b[i]) {
			return false
		}
	}
	return true
}

// lowerASCII returns b with ASCII upper-case letters lowered, in a copy
// when there are any.
func lowerASCII(b []byte) []byte {
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			out := append([]byte(nil), b...)
			for j := i; j < len(out); j++ {
				out[j] = lowerByte(out[j])
			}
			return out
		}
	}
	return b
}

// parseStdlib is parse as it was before the one-pass decoder: header and
// payload through decodeStrictStdlib, the header as a map. It is kept as
// the reference for FuzzParseMatchesStdlib.
func parseStdlib(raw string, maxSize int) (*parsed, *Error) {
	if len(raw) > maxSize {
		return nil, invalid(CodeTooLarge, "token too large")
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
				return nil, invalid(CodeMalformed, "malformed token: want three dot-separated parts")
			}
		default:
			return nil, invalid(CodeMalformed, "malformed token: unexpected character")
		}
	}
	if dot2 < 0 {
		return nil, invalid(CodeMalformed, "malformed token: want three dot-separated parts")
	}
	h64, p64, s64 := raw[:dot1], raw[dot1+1:dot2], raw[dot2+1:]
	if h64 == "" || p64 == "" {
		return nil, invalid(CodeMalformed, "malformed token: empty part")
	}
	p := &parsed{signingInput: raw[:dot2]}
	if e := p.parseHeaderStdlib(h64); e != nil {
		return nil, e
	}
	if s64 == "" {
		return nil, invalid(CodeMalformed, "malformed token: missing signature")
	}
	sig, err := b64.DecodeString(s64)
	if err != nil {
		return nil, invalid(CodeMalformed, "malformed token: signature is not base64url")
	}
	p.sig = sig
	payload, err := b64.DecodeString(p64)
	if err != nil {
		return nil, invalid(CodeMalformed, "malformed token: payload is not base64url")
	}
	if !lossless(string(payload)) {
		return nil, invalid(CodeMalformed, "malformed token: payload is not valid UTF-8 or has a lone surrogate escape")
	}
	claims, err := decodeStrictStdlib(payload)
	if errors.Is(err, errDuplicateMember) {
		return nil, invalid(CodeDuplicateMember, "malformed token: payload has a duplicate member name")
	}
	if err != nil {
		return nil, invalid(CodeMalformed, "malformed token: payload is not a JSON object")
	}
	p.claims = claims
	return p, nil
}

func (p *parsed) parseHeaderStdlib(h64 string) *Error {
	hb, err := b64.DecodeString(h64)
	if err != nil {
		return invalid(CodeMalformed, "malformed token: header is not base64url")
	}
	hdr, err := decodeStrictStdlib(hb)
	if errors.Is(err, errDuplicateMember) {
		return invalid(CodeDuplicateMember, "malformed token: header has a duplicate member name")
	}
	if err != nil {
		return invalid(CodeMalformed, "malformed token: header is not a JSON object")
	}
	for _, name := range refusedHeaders {
		if _, ok := hdr[name]; ok {
			return invalid(CodeHeaderNotAllowed, "header "+name+" not allowed")
		}
	}
	if _, ok := hdr["crit"]; ok {
		return invalid(CodeHeaderNotAllowed, "critical header extensions not supported")
	}
	rawAlg, ok := hdr["alg"]
	if !ok {
		return invalid(CodeMalformed, "malformed token: header has no alg")
	}
	if p.alg, ok = rawAlg.(string); !ok || p.alg == "" {
		return invalid(CodeMalformed, "malformed token: header alg is not a string")
	}
	if rawKid, ok := hdr["kid"]; ok {
		if p.kid, ok = rawKid.(string); !ok {
			return invalid(CodeMalformed, "malformed token: header kid is not a string")
		}
	}
	if rawTyp, ok := hdr["typ"]; ok {
		if p.typ, ok = rawTyp.(string); !ok {
			return invalid(CodeMalformed, "malformed token: header typ is not a string")
		}
		p.hasTyp = true
	}
	return nil
}
