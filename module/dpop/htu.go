package dpop

import (
	"errors"
	"net/url"
	"strings"
)

// NormalizeHTU returns the form of an absolute http(s) URL that htu values
// are compared in (RFC 9449 §4.3 check 9, RFC 3986 §6.2.2 and §6.2.3):
// query and fragment dropped; scheme and host lower-cased; the scheme's
// default port removed; percent-encodings upper-cased, and those of
// unreserved characters decoded; dot segments removed; an empty path made
// "/". It refuses URLs with user information, opaque forms or no host.
func NormalizeHTU(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", errors.New("not a URL")
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", errors.New("not an http or https URL")
	}
	if u.Opaque != "" || u.User != nil || u.Host == "" {
		return "", errors.New("not an absolute URL with a host")
	}
	origin, err := NormalizeOrigin(scheme, u.Host)
	if err != nil {
		return "", err
	}
	return origin + NormalizePath(u.EscapedPath()), nil
}

// NormalizeOrigin returns scheme://host in comparison form: lower case, the
// scheme's default port removed.
func NormalizeOrigin(scheme, host string) (string, error) {
	scheme = strings.ToLower(scheme)
	host = strings.ToLower(host)
	if host == "" {
		return "", errors.New("no host")
	}
	for i := 0; i < len(host); i++ {
		if c := host[i]; c <= ' ' || c == 0x7f || c == '/' || c == '?' || c == '#' || c == '@' || c == '\\' {
			return "", errors.New("host has characters a host cannot have")
		}
	}
	switch {
	case scheme == "https" && strings.HasSuffix(host, ":443"):
		host = strings.TrimSuffix(host, ":443")
	case scheme == "http" && strings.HasSuffix(host, ":80"):
		host = strings.TrimSuffix(host, ":80")
	}
	host = strings.TrimSuffix(host, ":") // an empty port is the default one
	if host == "" || host[0] == ':' {
		return "", errors.New("no host")
	}
	return scheme + "://" + host, nil
}

// NormalizePath normalises an escaped URL path: percent-encodings of
// unreserved characters decoded, the others' hex digits upper-cased, dot
// segments removed, "" made "/". A malformed percent-encoding is kept as it
// is (it then matches only itself).
func NormalizePath(p string) string {
	if p == "" {
		return "/"
	}
	if plainPath(p) {
		return p
	}
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '%' && i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2]) {
			d := unhex(p[i+1])<<4 | unhex(p[i+2])
			if unreserved(d) {
				b.WriteByte(d)
			} else {
				b.WriteByte('%')
				b.WriteByte(upperHex(p[i+1]))
				b.WriteByte(upperHex(p[i+2]))
			}
			i += 2
			continue
		}
		b.WriteByte(c)
	}
	return removeDotSegments(b.String())
}

// plainPath reports whether p needs no normalisation: it starts with "/",
// has no '%' and no "." segment.
func plainPath(p string) bool {
	if p[0] != '/' || strings.IndexByte(p, '%') >= 0 {
		return false
	}
	return !strings.Contains(p, "/.")
}

// removeDotSegments is RFC 3986 §5.2.4 for an absolute path.
func removeDotSegments(p string) string {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	segs := strings.Split(p[1:], "/")
	out := make([]string, 0, len(segs))
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	return "/" + strings.Join(out, "/")
}

func unreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func upperHex(c byte) byte {
	if c >= 'a' && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}
