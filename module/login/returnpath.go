package login

import (
	"net/url"
	"strings"
)

// maxReturnPathLen bounds the return path kept in the pending-login cookie.
const maxReturnPathLen = 2048

// SafeReturnPath validates where to send the browser after login or logout.
// Only same-site relative paths are accepted: the value must start with a
// single "/" and, in its raw form and every percent-decoded form (decoding
// is repeated to catch double encoding), must not start with "//" or "/\",
// contain a backslash, control characters or whitespace in the path, or be
// anything but printable ASCII. The query is kept; the fragment is dropped.
// It returns "/" and false when raw is refused or empty.
func SafeReturnPath(raw string) (string, bool) {
	if raw == "" || len(raw) > maxReturnPathLen {
		return "/", false
	}
	if i := strings.IndexByte(raw, '#'); i >= 0 {
		raw = raw[:i]
	}
	for i := 0; i < len(raw); i++ {
		// Printable ASCII only: no spaces, controls, DEL or raw UTF-8 (which
		// would let look-alike characters through), no backslash anywhere.
		if c := raw[i]; c <= 0x20 || c >= 0x7f || c == '\\' {
			return "/", false
		}
	}
	path, query, _ := strings.Cut(raw, "?")
	// Check the path as written and after each round of percent-decoding.
	p := path
	for round := 0; ; round++ {
		if !safePathForm(p) {
			return "/", false
		}
		dec, err := url.PathUnescape(p)
		if err != nil {
			return "/", false
		}
		if dec == p {
			break
		}
		if round == 3 {
			return "/", false // encoded more deeply than any real link
		}
		p = dec
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/", false
	}
	if query != "" {
		return path + "?" + query, true
	}
	return path, true
}

// safePathForm checks one (raw or decoded) form of the path.
func safePathForm(p string) bool {
	if len(p) == 0 || p[0] != '/' {
		return false
	}
	if len(p) > 1 && (p[1] == '/' || p[1] == '\\') {
		return false
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return false
		}
	}
	return true
}
