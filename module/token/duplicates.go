package token

import (
	"errors"
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
// are all `sub`. The decoder is the project's own one-pass decoder
// (strictjson.go): it accepts exactly what encoding/json accepts, yields
// the same values as encoding/json with UseNumber, and reports a repeated
// name only for text that is otherwise valid JSON. FuzzStrictMatchesStdlib
// and FuzzStrictMatchesReference hold it to both earlier implementations.
func decodeStrict(b []byte) (map[string]any, error) {
	return decodeStrictJSON(b)
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
