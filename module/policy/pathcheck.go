package policy

import (
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// PathError says why a request path is refused. Its text is fixed: it never
// repeats the path, so it is safe in logs and error bodies.
type PathError struct{ code, reason string }

func (e *PathError) Error() string { return "the request path " + e.reason }

// Code is a short fixed name of the check that failed, for logs and
// metrics details, e.g. "backslash".
func (e *PathError) Code() string { return e.code }

// The reasons CheckPath gives.
var (
	errPathBackslash    = &PathError{"backslash", "has a backslash, which some servers read as /"}
	errPathControl      = &PathError{"control_byte", "has a control byte (C0 or DEL)"}
	errPathEncodedSep   = &PathError{"encoded_separator", "has an encoded slash or backslash (%2F, %5C)"}
	errPathUTF8         = &PathError{"invalid_utf8", "is not valid UTF-8 (overlong or truncated sequences)"}
	errPathDoubleEscape = &PathError{"double_escape", "has an escape sequence that is itself escaped (%25 followed by two hex digits)"}
	errPathDotSegment   = &PathError{"dot_segment", "has a . or .. segment; send the resolved path"}
	errPathTrailing     = &PathError{"trailing_dot_or_space", "has a segment ending in a dot or a space, which some servers trim"}
	errPathStream       = &PathError{"ntfs_stream", "has an NTFS stream name (:$)"}
	errPathShortName    = &PathError{"short_name", "has a segment shaped like a Windows 8.3 short name (NAME~1)"}
	errPathDelimiter    = &PathError{"encoded_delimiter", "has an encoded ? or # (%3F, %23), which a server that decodes and parses the path again reads as the end of it"}
)

// CheckPath reports why u's path must not be routed, or nil. Access rules
// match the path as Caddy's matcher reads it (decoded, cleaned,
// case-insensitive); upstreams read it in other ways: as Windows does
// (backslash as separator, trailing dots and spaces dropped, stream names,
// 8.3 short names), decoding twice, decoding overlong UTF-8, or resolving
// dot segments after an empty segment. CheckPath refuses every path on which
// such readings can disagree with the rules' reading, in the decoded path
// (u.Path) and in the escaped form that is sent upstream (u.RawPath). Paths that browsers and ordinary clients send pass: browsers
// resolve dot segments and never send control bytes unescaped.
func CheckPath(u *url.URL) *PathError {
	p := u.Path
	if !utf8.ValidString(p) {
		return errPathUTF8
	}
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c < 0x20 || c == 0x7f:
			return errPathControl
		case c == '\\':
			return errPathBackslash
		case c == '?' || c == '#':
			return errPathDelimiter
		case c == '%' && i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2]):
			return errPathDoubleEscape
		}
	}
	for seg := range strings.SplitSeq(p, "/") {
		if err := checkSegment(seg); err != nil {
			return err
		}
		// Servlet-style servers drop ";params" (see withoutPathParams).
		if j := strings.IndexByte(seg, ';'); j >= 0 {
			if err := checkSegment(seg[:j]); err != nil {
				return err
			}
		}
	}
	// The escaped form sent upstream is RawPath when set; otherwise it is
	// Path escaped by Go, which never yields %2F, and %5C only for a
	// backslash, refused above.
	if hasEncodedSeparator(u.RawPath) {
		return errPathEncodedSep
	}
	if hasTildeDigit(p) && caddyhttp.HasWindowsShortName(p) {
		return errPathShortName
	}
	return nil
}

// checkSegment checks one decoded path segment.
func checkSegment(seg string) *PathError {
	switch {
	case seg == "." || seg == "..":
		return errPathDotSegment
	case seg != "" && (seg[len(seg)-1] == '.' || seg[len(seg)-1] == ' '):
		return errPathTrailing
	case strings.Contains(seg, ":$"):
		return errPathStream
	}
	return nil
}

// hasEncodedSeparator reports whether an escaped path has %2F or %5C (any
// case).
func hasEncodedSeparator(s string) bool {
	for i := strings.IndexByte(s, '%'); i >= 0 && i+2 < len(s); {
		a, b := s[i+1], s[i+2]|0x20
		if (a == '2' && b == 'f') || (a == '5' && b == 'c') {
			return true
		}
		next := strings.IndexByte(s[i+1:], '%')
		if next < 0 {
			break
		}
		i += 1 + next
	}
	return false
}

// hasTildeDigit reports whether p has "~" followed by a digit, as every 8.3
// short name does.
func hasTildeDigit(p string) bool {
	for i := strings.IndexByte(p, '~'); i >= 0 && i+1 < len(p); {
		if '0' <= p[i+1] && p[i+1] <= '9' {
			return true
		}
		next := strings.IndexByte(p[i+1:], '~')
		if next < 0 {
			break
		}
		i += 1 + next
	}
	return false
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c|0x20 && c|0x20 <= 'f')
}
