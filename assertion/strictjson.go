package assertion

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode"
	"unicode/utf8"
)

// maxDepth bounds the nesting of header and claims.
const maxDepth = 32

// smallObject is how many names an object may have before the duplicate
// scan keeps a set instead of comparing each new name with every earlier one.
const smallObject = 16

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
//
// encoding/json validates b first; then one scan over the bytes finds
// repeated names, without allocating for plain lower-case ASCII names.
func decodeObject(b []byte) (map[string]json.RawMessage, error) {
	if !utf8.Valid(b) {
		return nil, errNotObject
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return nil, errNotObject
	}
	if err := scanNames(b); err != nil {
		return nil, err
	}
	return m, nil
}

// frame is one open object or array during scanNames.
type frame struct {
	object bool
	start  int                 // the object's first name in the names stack
	set    map[string]struct{} // the object's names, once it is large
}

// scanNames reports errDuplicate when an object in the valid JSON text b
// repeats a name (after unescaping and canon), errTooDeep when b nests
// deeper than maxDepth.
func scanNames(b []byte) error {
	var frameBuf [8]frame
	var nameBuf [32][]byte
	frames, names := frameBuf[:0], nameBuf[:0]
	wantName := false
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '{', '[':
			if len(frames) == maxDepth {
				return errTooDeep
			}
			frames = append(frames, frame{object: b[i] == '{', start: len(names)})
			wantName = b[i] == '{'
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
					name = canonName(b[i : end+1])
				}
				f := &frames[len(frames)-1]
				if f.set == nil && len(names)-f.start < smallObject {
					for _, earlier := range names[f.start:] {
						if bytes.Equal(earlier, name) {
							return errDuplicate
						}
					}
					names = append(names, name)
				} else {
					if f.set == nil {
						f.set = make(map[string]struct{}, 2*smallObject)
						for _, earlier := range names[f.start:] {
							f.set[string(earlier)] = struct{}{}
						}
						names = names[:f.start]
					}
					if _, dup := f.set[string(name)]; dup {
						return errDuplicate
					}
					f.set[string(name)] = struct{}{}
				}
				wantName = false
			}
			i = end
		}
	}
	return nil
}

// stringEnd returns the index of the quote closing the JSON string that
// opens at b[open], and whether its bytes are already its canonical name:
// no escape, only ASCII, no upper-case letter.
func stringEnd(b []byte, open int) (end int, plain bool) {
	plain = true
	for i := open + 1; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i, plain
		case c == '\\':
			plain = false
			i++ // the escaped byte; \u's hex digits are neither quote nor backslash
		case c >= utf8.RuneSelf || c >= 'A' && c <= 'Z':
			plain = false
		}
	}
	return len(b), plain // unreachable for valid JSON
}

// canonName unescapes the quoted JSON string q and maps each rune with
// canonRune.
func canonName(q []byte) []byte {
	var s string
	if json.Unmarshal(q, &s) != nil {
		return q // unreachable for valid JSON; still compared, never skipped
	}
	out := make([]byte, 0, len(s))
	for _, r := range s {
		out = utf8.AppendRune(out, canonRune(r))
	}
	return out
}

// canonRune maps every rune of a Unicode case-folding orbit to one
// representative: the lower-case ASCII letter when the orbit has one (so
// the Kelvin sign is "k" and the long s is "s"), else the orbit's largest
// rune. Plain lower-case ASCII maps to itself, which lets scanNames compare
// such names where they lie.
func canonRune(r rune) rune {
	if r < utf8.RuneSelf {
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	largest := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < utf8.RuneSelf {
			return unicode.ToLower(f)
		}
		largest = max(largest, f)
	}
	return largest
}
