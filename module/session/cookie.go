package session

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Chunking scheme
//
// A value too long for one cookie is split into chunks named <name>,
// <name>_1, <name>_2, … The first chunk's value starts with the chunk count
// and a dot ("3.AAAA…"), so a reader knows how many chunks to expect and
// refuses the value when any of them is missing. Sealed values are opened
// only after reassembly, so chunks from two different writes (interleaved
// responses) fail authentication instead of being mixed.
const (
	// MaxChunks is the most cookies one value may be split into.
	MaxChunks = 10
	// chunkTarget bounds each Set-Cookie header value (name=value and all
	// attributes) so it stays well below the 4096 bytes browsers accept.
	chunkTarget = 4000
	// hostPrefix is used when the browser can enforce it: Secure, no Domain,
	// Path "/".
	hostPrefix = "__Host-"
)

// ErrTooLarge means a value does not fit in MaxChunks cookies.
var ErrTooLarge = errors.New("session: value too large for the cookie chunk limit")

// CookieOptions describe a cookie the plugin sets. Cookies are always
// HttpOnly.
type CookieOptions struct {
	// Name is the base name, e.g. "edgeauth". CookieName adds the __Host-
	// prefix when allowed.
	Name string
	// Path defaults to "/".
	Path string
	// Domain is empty for a host-only cookie (recommended).
	Domain string
	// Secure marks the cookie Secure (send over https only).
	Secure bool
	// SecureFunc, when set, decides Secure per request (for example from
	// r.TLS) and overrides Secure.
	SecureFunc func(r *http.Request) bool
	// SameSite defaults to Lax.
	SameSite http.SameSite
	// MaxAge is the cookie lifetime; 0 makes a browser-session cookie.
	MaxAge time.Duration
}

// ForRequest returns the options with defaults filled in and Secure resolved
// for r.
func (o CookieOptions) ForRequest(r *http.Request) CookieOptions {
	if o.SecureFunc != nil && r != nil {
		o.Secure = o.SecureFunc(r)
	}
	o.SecureFunc = nil
	if o.Path == "" {
		o.Path = "/"
	}
	if o.SameSite == 0 {
		o.SameSite = http.SameSiteLaxMode
	}
	return o
}

// CookieName is the effective cookie name: "__Host-<Name>" when the cookie
// is Secure, host-only and for Path "/"; otherwise Name. Resolve the options
// with ForRequest first when SecureFunc is used.
func (o CookieOptions) CookieName() string {
	if o.Secure && o.Domain == "" && (o.Path == "/" || o.Path == "") {
		return hostPrefix + o.Name
	}
	return o.Name
}

func (o CookieOptions) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     o.Path,
		Domain:   o.Domain,
		MaxAge:   maxAge,
		Secure:   o.Secure,
		HttpOnly: true,
		SameSite: o.SameSite,
	}
}

func (o CookieOptions) maxAgeSeconds() int {
	if o.MaxAge <= 0 {
		return 0
	}
	return max(int(o.MaxAge/time.Second), 1)
}

// ChunkName is the name of chunk i (0-based) of cookie name.
func ChunkName(name string, i int) string {
	if i == 0 {
		return name
	}
	return name + "_" + strconv.Itoa(i)
}

// chunkIndex reports whether cookie is a chunk of name and which one.
func chunkIndex(name, cookie string) (int, bool) {
	if cookie == name {
		return 0, true
	}
	rest, ok := strings.CutPrefix(cookie, name+"_")
	if !ok || rest == "" || len(rest) > 3 || rest[0] == '0' {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}

// validCookieValue reports whether v holds only RFC 6265 cookie-octets (and
// thus will not be silently altered by net/http).
func validCookieValue(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == ',' || c == ';' || c == '\\' {
			return false
		}
	}
	return true
}

// WriteChunks sets value as one or more cookies named after
// opts.ForRequest(r).CookieName(), each Set-Cookie header at most 4000 bytes,
// and deletes any chunk the request carried beyond the new count. Values
// with characters outside RFC 6265 cookie-octets, or too long for MaxChunks,
// are refused.
func WriteChunks(w http.ResponseWriter, r *http.Request, opts CookieOptions, value string) error {
	opts = opts.ForRequest(r)
	if opts.Name == "" {
		return errors.New("session: cookie name is empty")
	}
	if !validCookieValue(value) {
		return errors.New("session: cookie value contains characters that are not allowed in cookies")
	}
	name := opts.CookieName()
	maxAge := opts.maxAgeSeconds()
	var parts []string
	rest := value
	for i := 0; i < MaxChunks && (i == 0 || rest != ""); i++ {
		overhead := len(opts.cookie(ChunkName(name, i), "", maxAge).String())
		if i == 0 {
			overhead += len("10.") // room for the count prefix
		}
		room := chunkTarget - overhead
		if room <= 0 {
			return fmt.Errorf("session: cookie attributes leave no room for a value (name %q)", name)
		}
		n := min(room, len(rest))
		parts = append(parts, rest[:n])
		rest = rest[n:]
	}
	if rest != "" {
		return fmt.Errorf("%w: %d bytes do not fit in %d cookies", ErrTooLarge, len(value), MaxChunks)
	}
	parts[0] = strconv.Itoa(len(parts)) + "." + parts[0]
	for i, p := range parts {
		http.SetCookie(w, opts.cookie(ChunkName(name, i), p, maxAge))
	}
	if r != nil {
		for _, c := range r.Cookies() {
			if i, ok := chunkIndex(name, c.Name); ok && i >= len(parts) {
				http.SetCookie(w, opts.cookie(c.Name, "", -1))
			}
		}
	}
	return nil
}

// ReadChunks reassembles the value that WriteChunks stored under name (the
// effective name, see CookieName). It reports false when the cookie is
// absent, a chunk is missing, the count is malformed or above MaxChunks.
func ReadChunks(r *http.Request, name string) (string, bool) {
	if r == nil || name == "" {
		return "", false
	}
	found := map[int]string{}
	for _, c := range r.Cookies() {
		if i, ok := chunkIndex(name, c.Name); ok && i < MaxChunks {
			if _, dup := found[i]; !dup {
				found[i] = c.Value
			}
		}
	}
	first, ok := found[0]
	if !ok {
		return "", false
	}
	countStr, part0, ok := strings.Cut(first, ".")
	if !ok || countStr == "" || len(countStr) > 2 || countStr[0] == '0' {
		return "", false
	}
	count, err := strconv.Atoi(countStr)
	if err != nil || count < 1 || count > MaxChunks {
		return "", false
	}
	var b strings.Builder
	b.WriteString(part0)
	for i := 1; i < count; i++ {
		p, ok := found[i]
		if !ok || p == "" {
			return "", false
		}
		b.WriteString(p)
	}
	return b.String(), true
}

// ClearChunks expires the cookie and every chunk of it that the request
// carried (the first chunk is always expired, present or not).
func ClearChunks(w http.ResponseWriter, r *http.Request, opts CookieOptions) {
	opts = opts.ForRequest(r)
	name := opts.CookieName()
	http.SetCookie(w, opts.cookie(name, "", -1))
	if r == nil {
		return
	}
	for _, c := range r.Cookies() {
		if i, ok := chunkIndex(name, c.Name); ok && i > 0 {
			http.SetCookie(w, opts.cookie(c.Name, "", -1))
		}
	}
}

// IsChunkOf reports whether cookie is name itself or one of its chunks.
func IsChunkOf(name, cookie string) bool {
	_, ok := chunkIndex(name, cookie)
	return ok
}
