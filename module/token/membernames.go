package token

import (
	"encoding/json"
	"unicode/utf8"
)

// smallObject is how many names an object may have before repeatsMemberName
// stops comparing each new name with every earlier one and keeps a set.
const smallObject = 16

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

func lowerByte(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
