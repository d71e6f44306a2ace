package identity

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Pattern is a compiled claim value pattern, as written in a `claim` rule:
//
//   - `*` matches any run of characters, also none;
//   - `?` matches exactly one character (one UTF-8 encoded code point);
//   - `\*`, `\?` and `\\` stand for a literal `*`, `?` and `\`;
//   - every other character stands for itself, byte for byte.
//
// A backslash before any other character, or at the end, is an error, so
// that every pattern has exactly one reading. There are no character classes:
// `[` is an ordinary character. A pattern without wildcards matches only the
// identical string.
//
// The wildcards never match a character that Sanitize would drop (C0 and C1
// controls, DEL): a value such as "a@evil.com\x00@example.com" cannot hide
// its first part inside a `*`. Literal characters compare exactly, so a rule
// value that itself holds such a byte still matches only that same raw value.
type Pattern struct {
	text  string // as configured
	parts []part // nil for a pattern without wildcards
	lit   string // the unescaped literal, when parts is nil
	fold  bool   // compare ASCII letters case-insensitively
}

// part is one element of a compiled pattern.
type part struct {
	kind byte   // 0 literal, '*' any run, '?' one character
	lit  string // for literals
}

// CompilePattern compiles a claim value pattern (see Pattern). Its error
// names the offending position and the fix, without the pattern's prefix.
func CompilePattern(s string) (Pattern, error) {
	return compilePattern(s, false)
}

// compilePattern compiles s; with fold, ASCII letters compare
// case-insensitively (the literals are stored lower-cased).
func compilePattern(s string, fold bool) (Pattern, error) {
	if s == "" {
		return Pattern{}, fmt.Errorf("an empty value never matches; remove it")
	}
	p := Pattern{text: s, fold: fold}
	var lit strings.Builder
	wild := false
	flush := func() {
		if lit.Len() > 0 {
			p.parts = append(p.parts, part{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			if i+1 == len(s) {
				return Pattern{}, fmt.Errorf("%s ends with a lone backslash; write \\\\ for a literal backslash", quoteValue(s))
			}
			next := s[i+1]
			if next != '*' && next != '?' && next != '\\' {
				return Pattern{}, fmt.Errorf("%s: a backslash escapes only *, ? or another backslash (position %d); write \\\\ for a literal backslash", quoteValue(s), i+1)
			}
			lit.WriteByte(next)
			i++
		case '*', '?':
			wild = true
			flush()
			if c == '*' && len(p.parts) > 0 && p.parts[len(p.parts)-1].kind == '*' {
				continue // ** is *
			}
			p.parts = append(p.parts, part{kind: c})
		default:
			lit.WriteByte(c)
		}
	}
	if !wild {
		p.parts = nil
		p.lit = lit.String()
		if fold {
			p.lit = lowerASCII(p.lit)
		}
		return p, nil
	}
	flush()
	if fold {
		for i := range p.parts {
			p.parts[i].lit = lowerASCII(p.parts[i].lit)
		}
	}
	return p, nil
}

// String returns the pattern as configured.
func (p Pattern) String() string { return p.text }

// quoteValue shows a configured value in an error: between backquotes as
// written (backslashes included), or Go-quoted when it holds characters
// that backquotes cannot show.
func quoteValue(s string) string {
	if strconv.CanBackquote(s) {
		return "`" + s + "`"
	}
	return strconv.Quote(s)
}

// Match reports whether the whole of s matches the pattern.
func (p Pattern) Match(s string) bool {
	if p.parts == nil {
		if p.fold {
			return equalFoldASCII(s, p.lit)
		}
		return s == p.lit
	}
	return p.matchParts(s)
}

// matchParts matches s against the wildcard parts. It is the usual greedy
// matcher that backtracks only to the last `*`, so it runs in time
// proportional to len(s) times the number of parts.
func (p Pattern) matchParts(s string) bool {
	pi, si := 0, 0
	starPart, starStr := -1, 0 // the last `*` and where its match ends
	for {
		if pi < len(p.parts) {
			switch pt := p.parts[pi]; pt.kind {
			case '*':
				starPart, starStr = pi, si
				pi++
				continue
			case '?':
				if si < len(s) {
					if _, size, ok := wildcardRune(s[si:]); ok {
						pi++
						si += size
						continue
					}
				}
			default:
				if hasPrefixFold(s[si:], pt.lit, p.fold) {
					pi++
					si += len(pt.lit)
					continue
				}
			}
		} else if si == len(s) {
			return true
		}
		// Mismatch: let the last `*` take one more character, if it can.
		if starPart < 0 || starStr >= len(s) {
			return false
		}
		_, size, ok := wildcardRune(s[starStr:])
		if !ok {
			return false // a `*` cannot cross a control character
		}
		starStr += size
		pi, si = starPart+1, starStr
	}
}

// wildcardRune decodes the character at the start of s and reports whether
// a wildcard may match it: not a C0 or C1 control, not DEL, valid UTF-8.
func wildcardRune(s string) (rune, int, bool) {
	c := s[0]
	if c < utf8.RuneSelf {
		return rune(c), 1, c >= 0x20 && c != 0x7f
	}
	r, size := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && size == 1 || isC1(r) {
		return r, size, false
	}
	return r, size, true
}

// hasPrefixFold reports whether s starts with lit; with fold, ASCII letters
// of s compare case-insensitively (lit is already lower-cased).
func hasPrefixFold(s, lit string, fold bool) bool {
	if !fold {
		return strings.HasPrefix(s, lit)
	}
	return len(s) >= len(lit) && equalFoldASCII(s[:len(lit)], lit)
}

// equalFoldASCII reports whether s equals lower (already lower-cased) when
// the ASCII letters of s are lower-cased. Other characters, non-ASCII letters
// included, compare byte for byte: Unicode case folding would make the
// Kelvin sign U+212A equal "k" and the long s U+017F equal "s".
func equalFoldASCII(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if lowerByte(s[i]) != lower[i] {
			return false
		}
	}
	return true
}

// lowerASCII lower-cases the ASCII letters of s.
func lowerASCII(s string) string {
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

// lowerByte lower-cases an ASCII letter.
func lowerByte(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// ClaimMatches reports whether the claim at path, or one element of it when
// it is an array of scalars, matches one of pats. Like ClaimHas it reads the
// raw claim, never its sanitized header form: strings as they are, numbers in
// plain decimal, booleans as "true" or "false". Empty strings, null, objects
// and arrays holding objects or arrays match nothing.
func ClaimMatches(claims map[string]any, path string, pats []Pattern) bool {
	return claimSatisfies(claims, path, func(s string) bool { return matchAny(s, pats) })
}

// matchAny reports whether s matches one of pats.
func matchAny(s string, pats []Pattern) bool {
	for i := range pats {
		if pats[i].Match(s) {
			return true
		}
	}
	return false
}
