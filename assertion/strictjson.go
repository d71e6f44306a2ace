package assertion

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxDepth bounds the nesting of header and claims.
const maxDepth = 32

var (
	errNotObject = errors.New("not one JSON object")
	errDuplicate = errors.New("duplicate member name")
	errTooDeep   = errors.New("nested too deeply")
)

// decodeObject decodes b, which must be exactly one JSON object in valid
// UTF-8, into its members. It refuses an object at any depth that repeats a
// member name: parsers disagree on which copy wins (encoding/json keeps the
// last, others the first), so such a claim set could mean one thing here
// and another in a second parser. Names are compared after unescaping and
// case folding, because encoding/json matches struct fields
// case-insensitively ("sub", "SUB" and "s\u0075b" are one field to it).
func decodeObject(b []byte) (map[string]json.RawMessage, error) {
	if !utf8.Valid(b) {
		return nil, errNotObject
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, errNotObject
	}
	if err := walkObject(dec, 1); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errNotObject
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, errNotObject
	}
	return m, nil
}

// walkObject reads the members of an object whose '{' was just read.
func walkObject(dec *json.Decoder, depth int) error {
	if depth > maxDepth {
		return errTooDeep
	}
	seen := map[string]struct{}{}
	for {
		tok, err := dec.Token()
		if err != nil {
			return errNotObject
		}
		if tok == json.Delim('}') {
			return nil
		}
		name, ok := tok.(string)
		if !ok {
			return errNotObject
		}
		f := fold(name)
		if _, dup := seen[f]; dup {
			return errDuplicate
		}
		seen[f] = struct{}{}
		if err := walkValue(dec, depth); err != nil {
			return err
		}
	}
}

// walkValue reads one value.
func walkValue(dec *json.Decoder, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		return errNotObject
	}
	switch tok {
	case json.Delim('{'):
		return walkObject(dec, depth+1)
	case json.Delim('['):
		if depth+1 > maxDepth {
			return errTooDeep
		}
		for dec.More() {
			if err := walkValue(dec, depth+1); err != nil {
				return err
			}
		}
		if end, err := dec.Token(); err != nil || end != json.Delim(']') {
			return errNotObject
		}
	}
	return nil
}

// fold maps each rune of a name to the largest rune of its case-folding
// orbit, so that two names equal under any Unicode case folding fold alike.
// Lower-case ASCII letters are their own largest, except k (Kelvin sign)
// and s (long s); a name of only such bytes is returned as is.
func fold(s string) string {
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || c >= 'A' && c <= 'Z' || c == 'k' || c == 's' {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	return strings.Map(func(r rune) rune {
		largest := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			largest = max(largest, f)
		}
		return largest
	}, s)
}
