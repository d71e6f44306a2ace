package identity

import (
	"strings"
	"unicode/utf8"
)

// Sanitize makes s safe to use as an HTTP header value: it drops every C0
// control byte (NUL … US, including TAB, CR and LF), DEL, the C1 controls
// U+0080–U+009F and any byte that is not part of valid UTF-8. Other
// non-ASCII text is kept as UTF-8.
//
// When s is already clean it is returned as is, without allocating.
func Sanitize(s string) string {
	clean := true
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			i++
			continue
		}
		if c < utf8.RuneSelf { // C0 control or DEL
			clean = false
			break
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || isC1(r) {
			clean = false
			break
		}
		i += size
	}
	if clean {
		return s
	}

	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c < 0x7f {
				b.WriteByte(c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if !(r == utf8.RuneError && size == 1) && !isC1(r) {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// isC1 reports whether r is a C1 control character.
func isC1(r rune) bool { return r >= 0x80 && r <= 0x9f }

// Clean reports whether s needs no sanitizing: Sanitize(s) == s. A claim
// value that is not clean is not exported at all (see ClaimValue): dropping
// its control bytes could turn it into another valid value — "a\x00" into
// "a" — that an upstream would then compare.
func Clean(s string) bool { return Sanitize(s) == s }
