package token

import "unicode/utf8"

// lossless reports whether decoding the JSON text b keeps every string as
// the issuer wrote it. encoding/json replaces invalid UTF-8 bytes and
// escaped lone UTF-16 surrogates (`"\ud800"`) with U+FFFD, so two tokens
// whose `sub` differ only there would decode to one subject (one cache key,
// one X-Auth-Subject) while an STS or an upstream that reads the token
// itself tells them apart. Such tokens are refused.
func lossless(b string) bool {
	if !utf8.ValidString(b) {
		return false
	}
	// Backslashes occur only inside strings in valid JSON; the decoder
	// rejects anything else afterwards.
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if i+1 >= len(b) {
			return false
		}
		if b[i+1] != 'u' {
			i++ // a one-character escape, \\ included
			continue
		}
		r, ok := hex4String(b, i+2)
		if !ok {
			return false
		}
		i += 5
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return false // a low surrogate without a high one
		case r >= 0xD800 && r <= 0xDBFF:
			if i+6 >= len(b) || b[i+1] != '\\' || b[i+2] != 'u' {
				return false
			}
			lo, ok := hex4String(b, i+3)
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return false
			}
			i += 6
		}
	}
	return true
}
