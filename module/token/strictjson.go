package token

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// maxNestingDepth is encoding/json's limit on nested objects and arrays;
// deeper text is refused, as encoding/json refuses it.
const maxNestingDepth = 10000

// errNotObject is text that is not exactly one JSON object.
var errNotObject = errors.New("not a JSON object")

// member is one name/value pair of an object being decoded. A string value
// stays in str until the object's map is built, so that reading a header's
// alg, kid and typ boxes nothing.
type member struct {
	name  string // as unescaped
	key   string // name, or its foldName form when it is not ASCII
	str   string
	isStr bool
	val   any
}

// strictDecoder decodes JSON text in one pass into the values encoding/json
// produces with UseNumber (map[string]any, []any, string, json.Number,
// bool, nil), accepting exactly the texts encoding/json accepts, and notes
// any object that repeats a member name under decodeStrict's comparison
// (after unescaping, under case folding). Strings without escapes are
// slices of s, so an ordinary token's names and values cost no copy.
type strictDecoder struct {
	s     string
	i     int
	depth int
	skip  bool     // check nested values but build none (a header's)
	dup   bool     // some object repeats a member name
	kv    []member // members of the open objects, innermost last
	vals  []any    // elements of the open arrays, innermost last
}

// maxPooledScratch bounds the scratch a pooled decoder keeps, so that one
// large token does not pin its memory.
const maxPooledScratch = 256

// decoders reuses decoders' scratch stacks: the escape analysis cannot keep
// them on the stack, and a fresh one per token would cost an allocation.
var decoders = sync.Pool{New: func() any {
	return &strictDecoder{kv: make([]member, 0, 32), vals: make([]any, 0, 16)}
}}

func getDecoder(s string) *strictDecoder {
	d := decoders.Get().(*strictDecoder)
	d.s, d.i, d.depth, d.skip, d.dup = s, 0, 0, false, false
	return d
}

// release returns d to the pool, dropping its references into the text
// and the decoded values. Every pop clears what it drops, so only what is
// still on the stacks (a header's members, or a failed decode's) needs
// clearing here.
func (d *strictDecoder) release() {
	clear(d.kv)
	clear(d.vals)
	d.kv, d.vals, d.s = d.kv[:0], d.vals[:0], ""
	if cap(d.kv) <= maxPooledScratch && cap(d.vals) <= maxPooledScratch {
		decoders.Put(d)
	}
}

// decodeStrictJSON is decodeStrict: one JSON object, numbers as
// json.Number, errDuplicateMember for a repeated name at any depth (only
// when the text is otherwise valid, as encoding/json would see it).
func decodeStrictJSON(b []byte) (map[string]any, error) {
	return decodeStrictString(string(b))
}

// decodeStrictString is decodeStrictJSON on a string, whose strings the
// decoded values may share.
func decodeStrictString(s string) (map[string]any, error) {
	d := getDecoder(s)
	defer d.release()
	d.space()
	if d.peek() != '{' {
		return nil, errNotObject
	}
	m, ok := d.object()
	if !ok || !d.atEnd() {
		return nil, errNotObject
	}
	if d.dup {
		return nil, errDuplicateMember
	}
	return m, nil
}

// header decodes a JOSE header (one JSON object, checked as decodeStrict
// checks it) and returns its top-level members without building a map:
// string values are in str, others are checked but not built (val is
// nil). The slice is d's scratch: use it before d.release.
func (d *strictDecoder) header() ([]member, error) {
	d.skip = true
	d.space()
	if d.peek() != '{' {
		return nil, errNotObject
	}
	base, ok := d.members()
	if !ok || !d.atEnd() {
		return nil, errNotObject
	}
	if d.dup {
		return nil, errDuplicateMember
	}
	return d.kv[base:], nil
}

func (d *strictDecoder) peek() byte {
	if d.i < len(d.s) {
		return d.s[d.i]
	}
	return 0
}

// space skips JSON whitespace.
func (d *strictDecoder) space() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// atEnd reports whether only whitespace is left.
func (d *strictDecoder) atEnd() bool {
	d.space()
	return d.i == len(d.s)
}

func (d *strictDecoder) enter() bool {
	d.depth++
	return d.depth <= maxNestingDepth
}

// value decodes the value at d.i (whitespace already skipped).
func (d *strictDecoder) value() (any, bool) {
	switch c := d.peek(); {
	case c == '{':
		m, ok := d.object()
		return m, ok
	case c == '[':
		a, ok := d.array()
		return a, ok
	case c == '"':
		s, ok := d.str()
		if d.skip {
			return nil, ok
		}
		return s, ok
	case c == '-' || c >= '0' && c <= '9':
		n, ok := d.number()
		if d.skip {
			return nil, ok
		}
		return n, ok
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	}
	return nil, false
}

func (d *strictDecoder) literal(word string) bool {
	if !strings.HasPrefix(d.s[d.i:], word) {
		return false
	}
	d.i += len(word)
	return true
}

// object decodes the object at d.i into a map sized to its members.
func (d *strictDecoder) object() (map[string]any, bool) {
	base, ok := d.members()
	if !ok || d.skip {
		clear(d.kv[base:])
		d.kv = d.kv[:base]
		return nil, ok
	}
	m := make(map[string]any, len(d.kv)-base)
	for _, mb := range d.kv[base:] {
		if mb.isStr {
			m[mb.name] = mb.str
		} else {
			m[mb.name] = mb.val
		}
	}
	clear(d.kv[base:])
	d.kv = d.kv[:base]
	return m, true
}

// members decodes the object at d.i and leaves its members on d.kv from
// base on.
func (d *strictDecoder) members() (base int, ok bool) {
	d.i++ // '{'
	if !d.enter() {
		return 0, false
	}
	base = len(d.kv)
	var set map[string]struct{} // folded names, once the object is large
	d.space()
	if d.peek() == '}' {
		d.i++
		d.depth--
		return base, true
	}
	for {
		d.space()
		if d.peek() != '"' {
			return 0, false
		}
		name, ok := d.str()
		if !ok {
			return 0, false
		}
		mb := member{name: name, key: name}
		if !isASCII(name) {
			mb.key, _ = foldName(name)
		}
		set = d.noteName(base, mb.key, set)
		d.space()
		if d.peek() != ':' {
			return 0, false
		}
		d.i++
		d.space()
		if d.peek() == '"' {
			mb.str, ok = d.str()
			mb.isStr = true
		} else {
			mb.val, ok = d.value()
		}
		if !ok {
			return 0, false
		}
		d.kv = append(d.kv, mb)
		d.space()
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			d.depth--
			return base, true
		default:
			return 0, false
		}
	}
}

// noteName compares a member's key with the earlier members of its object
// (d.kv[base:]) and sets d.dup on a repeat. Keys are ASCII names as sent
// or folded non-ASCII names, and compare equal ignoring ASCII case exactly
// when their foldName forms are equal (see equalASCIIFold). Past
// smallObject names the comparison goes through a set.
func (d *strictDecoder) noteName(base int, key string, set map[string]struct{}) map[string]struct{} {
	earlier := d.kv[base:]
	if set == nil && len(earlier) < smallObject {
		for i := range earlier {
			if equalASCIIFoldString(earlier[i].key, key) {
				d.dup = true
			}
		}
		return nil
	}
	if set == nil {
		set = make(map[string]struct{}, 2*smallObject)
		for i := range earlier {
			set[lowerASCIIString(earlier[i].key)] = struct{}{}
		}
	}
	k := lowerASCIIString(key)
	if _, seen := set[k]; seen {
		d.dup = true
	}
	set[k] = struct{}{}
	return set
}

// array decodes the array at d.i; an empty one is a non-nil empty slice,
// as encoding/json makes it.
func (d *strictDecoder) array() ([]any, bool) {
	d.i++ // '['
	if !d.enter() {
		return nil, false
	}
	base := len(d.vals)
	d.space()
	if d.peek() == ']' {
		d.i++
		d.depth--
		if d.skip {
			return nil, true
		}
		return []any{}, true
	}
	for {
		d.space()
		v, ok := d.value()
		if !ok {
			return nil, false
		}
		if !d.skip {
			d.vals = append(d.vals, v)
		}
		d.space()
		switch d.peek() {
		case ',':
			d.i++
		case ']':
			d.i++
			d.depth--
			if d.skip {
				return nil, true
			}
			a := make([]any, len(d.vals)-base)
			copy(a, d.vals[base:])
			clear(d.vals[base:])
			d.vals = d.vals[:base]
			return a, true
		default:
			return nil, false
		}
	}
}

// number reads a JSON number as its literal text.
func (d *strictDecoder) number() (json.Number, bool) {
	s, start, i := d.s, d.i, d.i
	if s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		i = digitsFrom(s, i)
	default:
		return "", false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return "", false
		}
		i = digitsFrom(s, i)
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return "", false
		}
		i = digitsFrom(s, i)
	}
	d.i = i
	return json.Number(s[start:i]), true
}

func digitsFrom(s string, i int) int {
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// str reads the string at d.i. One without escapes, control bytes or
// invalid UTF-8 is a slice of the text; others are unescaped as
// encoding/json unescapes them (invalid UTF-8 bytes and lone surrogate
// escapes become U+FFFD; parse refuses both beforehand with lossless).
func (d *strictDecoder) str() (string, bool) {
	s, start := d.s, d.i+1
	ascii := true
	for i := start; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			if ascii || utf8.ValidString(s[start:i]) {
				d.i = i + 1
				return s[start:i], true
			}
			return d.unescape(start)
		case c == '\\':
			return d.unescape(start)
		case c < ' ':
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", false
}

// unescape reads the string whose contents start at s[start] the slow way.
func (d *strictDecoder) unescape(start int) (string, bool) {
	s := d.s
	var buf [128]byte // on the stack for short strings
	b := buf[:0]
	for i := start; i < len(s); {
		c := s[i]
		switch {
		case c == '"':
			d.i = i + 1
			return string(b), true
		case c < ' ':
			return "", false
		case c == '\\':
			if i+1 >= len(s) {
				return "", false
			}
			switch e := s[i+1]; e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r, ok := hex4String(s, i+2)
				if !ok {
					return "", false
				}
				i += 6
				if utf16.IsSurrogate(r) {
					if lo, ok := escapedRune(s, i); ok {
						if pair := utf16.DecodeRune(r, lo); pair != unicode.ReplacementChar {
							b = utf8.AppendRune(b, pair)
							i += 6
							continue
						}
					}
					r = unicode.ReplacementChar
				}
				b = utf8.AppendRune(b, r)
				continue
			default:
				return "", false
			}
			i += 2
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			b = utf8.AppendRune(b, r) // U+FFFD for an invalid byte
			i += size
		}
	}
	return "", false
}

// escapedRune reads a `\uXXXX` escape at s[at:].
func escapedRune(s string, at int) (rune, bool) {
	if at+1 >= len(s) || s[at] != '\\' || s[at+1] != 'u' {
		return 0, false
	}
	return hex4String(s, at+2)
}

// hex4String reads four hex digits at s[at:].
func hex4String(s string, at int) (rune, bool) {
	if at+4 > len(s) {
		return 0, false
	}
	var r rune
	for i := at; i < at+4; i++ {
		c := s[i]
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// equalASCIIFoldString is equalASCIIFold for strings.
func equalASCIIFoldString(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerByte(a[i]) != lowerByte(b[i]) {
			return false
		}
	}
	return true
}

// lowerASCIIString lowers ASCII upper-case letters only (strings.ToLower
// would also fold the non-ASCII letters a key may keep), in a copy when
// there are any.
func lowerASCIIString(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = lowerByte(b[j])
			}
			return string(b)
		}
	}
	return s
}

// smallObject is how many names an object may have before the decoder
// stops comparing each new name with every earlier one and keeps a set.
const smallObject = 16

func lowerByte(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
