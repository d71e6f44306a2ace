package token

import "strings"

// SplitScopes splits a space-delimited scope string (RFC 6749 §3.3) into
// its scope tokens. Only the space character (%x20) separates tokens: other
// white space (tab, NBSP, NEL, LINE SEPARATOR …) is not a delimiter, so a
// token holding it is not split into two scopes that were never granted.
// Empty tokens are skipped, and so is any token with a character outside
// the scope-token set (%x21 / %x23-5B / %x5D-7E): such a token is not a
// scope, and the caller is granted nothing for it.
func SplitScopes(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, " ") {
		if ValidScope(f) {
			out = append(out, f)
		}
	}
	return out
}

// ValidScope reports whether s is one RFC 6749 scope-token: at least one
// character, each printable ASCII other than space, '"' and '\'.
func ValidScope(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
