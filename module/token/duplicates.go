package token

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// errDuplicateMember is a JSON object that repeats a member name.
var errDuplicateMember = errors.New("duplicate member name")

// decodeStrict decodes b, which must be exactly one JSON object, with
// numbers as json.Number, and refuses (errDuplicateMember) an object at any
// depth that repeats a member name. Parsers disagree on which copy of a
// repeated name wins (encoding/json keeps the last, others the first), so
// a signed token with one would mean different things here and upstream.
//
// Names are compared after unescaping and under case folding, because
// encoding/json matches names to struct fields case-insensitively: for a
// Go upstream decoding claims into a struct, "sub", "s\u0075b" and "SUB"
// are all `sub`. It reads b with encoding/json's tokenizer, in one pass.
func decodeStrict(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	m, err := readObject(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return m, nil
}

// readObject reads an object's members after its '{'.
func readObject(dec *json.Decoder) (map[string]any, error) {
	m := map[string]any{}
	var folded map[string]struct{} // made when a name needs folding
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		if d, ok := tok.(json.Delim); ok && d == '}' {
			return m, nil
		}
		name, ok := tok.(string)
		if !ok {
			return nil, errors.New("object member name is not a string")
		}
		key, plain := foldName(name)
		if _, dup := m[name]; dup {
			return nil, errDuplicateMember
		}
		if !plain || folded != nil {
			if folded == nil {
				folded = make(map[string]struct{}, len(m)+1)
				for k := range m {
					f, _ := foldName(k)
					folded[f] = struct{}{}
				}
			}
			if _, dup := folded[key]; dup {
				return nil, errDuplicateMember
			}
			folded[key] = struct{}{}
		}
		tok, err = dec.Token()
		if err != nil {
			return nil, err
		}
		v, err := readValue(dec, tok)
		if err != nil {
			return nil, err
		}
		m[name] = v
	}
}

// readValue reads the value that starts with tok.
func readValue(dec *json.Decoder, tok json.Token) (any, error) {
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil // string, json.Number, bool or nil
	}
	switch d {
	case '{':
		return readObject(dec)
	case '[':
		a := []any{}
		for {
			tok, err := dec.Token()
			if err != nil {
				return nil, err
			}
			if d, ok := tok.(json.Delim); ok && d == ']' {
				return a, nil
			}
			v, err := readValue(dec, tok)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
	}
	return nil, errors.New("unexpected delimiter")
}

// foldName returns a folded form of a member name such that two names
// encoding/json would match to the same struct field fold equally (ASCII
// letters to lower case, other runes through ToUpper(ToLower(r)) and then
// ToLower). plain reports that the name is its own folded form (lower-case
// ASCII, the common case), which costs no allocation.
func foldName(s string) (folded string, plain bool) {
	plain = true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || c >= 'A' && c <= 'Z' {
			plain = false
			break
		}
	}
	if plain {
		return s, true
	}
	return strings.Map(func(r rune) rune {
		if r < utf8.RuneSelf {
			return unicode.ToLower(r)
		}
		return unicode.ToLower(unicode.ToUpper(unicode.ToLower(r)))
	}, s), false
}

// hasDuplicateMember reports whether the JSON object b repeats a member
// name at any depth (or is not one JSON object).
func hasDuplicateMember(b []byte) bool {
	_, err := decodeStrict(b)
	return err != nil
}
