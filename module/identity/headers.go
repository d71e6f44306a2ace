package identity

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
)

// HeaderSpec is one configured identity header.
//
// Value is a template with Caddy placeholders, such as
// "{http.auth.user.upn}"; it is expanded per request and the result is
// sanitized. A Name that starts with "-" (e.g. "-X-Auth-Email") removes the
// default header of that name and takes no Value. A spec whose Name equals a
// default header's replaces that default.
type HeaderSpec struct {
	// Name is the header name, or "-" followed by a default header's name.
	Name string `json:"name"`
	// Value is the template of the header value.
	Value string `json:"value,omitempty"`
}

// source says where an injected header takes its value from.
type source int

const (
	fromClaim    source = iota // identity.ClaimValue(claims, claim)
	fromSubject                // Identity.Subject (or claim sub)
	fromIssuer                 // Identity.Issuer (or claim iss)
	fromScopes                 // Identity.Scopes, space-separated
	fromTemplate               // the operator's template, through the replacer
)

// headerEntry is one header that Inject sets.
type headerEntry struct {
	name  string // canonical form
	src   source
	claim string // for fromClaim
	tmpl  string // for fromTemplate
}

// defaultHeaders are the headers injected unless removed or replaced, in the
// order of the table in docs/CONTRACT.md ("What the upstream receives"). An
// array claim such as groups is written as ClaimValue writes it: its
// elements joined by one space.
var defaultHeaders = []headerEntry{
	{name: "X-Auth-Subject", src: fromSubject},
	{name: "X-Auth-Issuer", src: fromIssuer},
	{name: "X-Auth-Scopes", src: fromScopes},
	{name: "X-Auth-Account-Id", src: fromClaim, claim: "aid"},
	{name: "X-Auth-User-Id", src: fromClaim, claim: "uid"},
	{name: "X-Auth-User-Type", src: fromClaim, claim: "type"},
	{name: "X-Auth-Login-Name", src: fromClaim, claim: "login_name"},
	{name: "X-Auth-Upn", src: fromClaim, claim: "upn"},
	{name: "X-Auth-Name", src: fromClaim, claim: "name"},
	{name: "X-Auth-Email", src: fromClaim, claim: "email"},
	{name: "X-Auth-Groups", src: fromClaim, claim: "groups"},
}

// DefaultStripPrefixes are the header name prefixes whose client-supplied
// copies are deleted when NewHeaders is given nil prefixes.
var DefaultStripPrefixes = []string{"X-Auth-", "X-Sts-"}

// reservedHeaders may not be configured as identity headers: they carry the
// caller's credential or framing, and Strip would delete the client's copy
// before authentication.
var reservedHeaders = map[string]bool{
	"authorization": true, "proxy-authorization": true, "cookie": true,
	"host": true, "content-length": true, "transfer-encoding": true,
	"connection": true, "keep-alive": true, "te": true, "trailer": true,
	"upgrade": true, "proxy-connection": true, "content-type": true,
	"expect": true,
}

// Headers strips client-supplied identity headers and injects the verified
// identity. Build it with NewHeaders; after AddStripName calls are done it is
// safe for concurrent use.
type Headers struct {
	entries  []headerEntry
	prefixes []string            // normalised: lower case, '_' and '.' read as '-'
	strip    map[string]struct{} // normalised names to delete
	maxName  int                 // longest key in strip
}

// NewHeaders builds the header set from the defaults, the configured specs and
// the strip prefixes (DefaultStripPrefixes when nil; an empty non-nil slice
// strips by exact name only).
func NewHeaders(specs []HeaderSpec, stripPrefixes []string) (*Headers, error) {
	if stripPrefixes == nil {
		stripPrefixes = DefaultStripPrefixes
	}
	h := &Headers{strip: make(map[string]struct{})}
	for _, p := range stripPrefixes {
		if err := validName(p); err != nil {
			return nil, fmt.Errorf("strip prefix %q: %v", p, err)
		}
		h.prefixes = append(h.prefixes, normalize(p))
	}

	entries := append([]headerEntry(nil), defaultHeaders...)
	seen := make(map[string]bool) // normalised names given by specs
	for _, s := range specs {
		name, remove := strings.CutPrefix(s.Name, "-")
		if err := validName(name); err != nil {
			return nil, fmt.Errorf("header %q: %v", s.Name, err)
		}
		key := normalize(name)
		if reservedHeaders[key] {
			return nil, fmt.Errorf("header %s: reserved (it carries credentials or framing); choose another name such as X-Auth-%s", name, http.CanonicalHeaderKey(name))
		}
		if seen[key] {
			return nil, fmt.Errorf("header %s: configured twice; keep one line", name)
		}
		seen[key] = true
		idx := indexOf(entries, key)
		if remove {
			if s.Value != "" {
				return nil, fmt.Errorf("header %s: removing a default header takes no value; drop the value or the leading '-'", s.Name)
			}
			if idx < 0 {
				return nil, fmt.Errorf("header %s: %s is not a default header, so there is nothing to remove (defaults: %s)", s.Name, name, defaultNames())
			}
			entries = append(entries[:idx], entries[idx+1:]...)
			h.addStrip(key) // a removed header must still never come from the client
			continue
		}
		if s.Value == "" {
			return nil, fmt.Errorf("header %s: needs a value such as {http.auth.user.email}; to remove a default header write -%s", name, name)
		}
		e := headerEntry{name: http.CanonicalHeaderKey(name), src: fromTemplate, tmpl: s.Value}
		if idx >= 0 {
			entries[idx] = e
		} else {
			entries = append(entries, e)
		}
	}
	h.entries = entries
	for _, e := range entries {
		h.addStrip(normalize(e.name))
	}
	return h, nil
}

// AddStripName makes Strip delete client-supplied copies of name too (for
// example the configured STS credential headers). Call it before the Headers
// is used to serve requests.
func (h *Headers) AddStripName(name string) error {
	if err := validName(name); err != nil {
		return fmt.Errorf("header %q: %v", name, err)
	}
	h.addStrip(normalize(name))
	return nil
}

func (h *Headers) addStrip(key string) {
	h.strip[key] = struct{}{}
	if len(key) > h.maxName {
		h.maxName = len(key)
	}
}

// Names returns the canonical names of the headers Inject may set, in order.
func (h *Headers) Names() []string {
	names := make([]string, len(h.entries))
	for i, e := range h.entries {
		names[i] = e.name
	}
	return names
}

// Strip deletes every header that a client may have sent to impersonate the
// plugin: any header whose name, lower-cased and with '_' and '.' read as '-', starts
// with a strip prefix or equals a header name the plugin sets or strips. Keys
// need not be canonical.
//
// It also removes, from every Connection and Proxy-Connection field, each
// element that names such a header (in the same spelling-insensitive way), so
// that a proxy after the plugin, which deletes the headers these fields name,
// cannot be made to drop what Inject sets (see cleanConnection). It does not
// allocate when nothing matches.
func (h *Headers) Strip(hdr http.Header) {
	var buf [128]byte
	for k := range hdr {
		if isConnectionField(k) {
			h.cleanConnection(hdr, k, &buf)
		} else if h.matches(k, &buf) {
			delete(hdr, k)
		}
	}
}

// matches reports whether the header key k must be stripped.
func (h *Headers) matches(k string, buf *[128]byte) bool {
	for _, p := range h.prefixes {
		if hasPrefixNormalized(k, p) {
			return true
		}
	}
	if len(k) > h.maxName {
		return false
	}
	if len(k) > len(buf) { // rare: a configured name longer than the buffer
		for name := range h.strip {
			if len(name) == len(k) && hasPrefixNormalized(k, name) {
				return true
			}
		}
		return false
	}
	n := copy(buf[:], k)
	for i := 0; i < n; i++ {
		buf[i] = normByte(buf[i])
	}
	// The compiler does not allocate for a map index by string(bytes).
	_, ok := h.strip[string(buf[:n])]
	return ok
}

// Inject sets the identity headers on hdr. A header whose value is empty
// after sanitizing (absent or empty claim) is deleted instead. Default headers
// read the identity directly; configured templates are expanded with
// repl.ReplaceKnown (repl may be nil when there are none; templates then give
// no header), sanitized and trimmed of surrounding spaces. Only the
// operator's template is ever scanned for placeholders, never claim data.
func (h *Headers) Inject(hdr http.Header, id *Identity, repl *caddy.Replacer) {
	// One backing array holds every value, so a request costs one allocation
	// here instead of one per header. Each header's slice has capacity 1:
	// appending to one reallocates and never writes into its neighbour.
	var vals []string
	for _, e := range h.entries {
		v := ""
		if id != nil {
			v = e.value(id, repl)
		}
		if v == "" {
			delete(hdr, e.name)
			continue
		}
		if len(vals) == cap(vals) {
			vals = make([]string, 0, len(h.entries))
		}
		vals = append(vals, v)
		n := len(vals)
		hdr[e.name] = vals[n-1 : n : n]
	}
}

// value computes the sanitized value of e for id.
func (e *headerEntry) value(id *Identity, repl *caddy.Replacer) string {
	switch e.src {
	case fromSubject:
		return subject(id)
	case fromIssuer:
		if id.Issuer != "" {
			return Sanitize(id.Issuer)
		}
		v, _ := ClaimValue(id.Claims, "iss")
		return v
	case fromScopes:
		return scopes(id)
	case fromClaim:
		v, _ := ClaimValue(id.Claims, e.claim)
		return v
	case fromTemplate:
		if repl == nil {
			return ""
		}
		return strings.TrimSpace(Sanitize(repl.ReplaceKnown(e.tmpl, "")))
	}
	return ""
}

// subject returns the sanitized subject of id.
func subject(id *Identity) string {
	if id.Subject != "" {
		return Sanitize(id.Subject)
	}
	v, _ := ClaimValue(id.Claims, "sub")
	return v
}

// scopes returns the granted scopes of id, sanitized and space-separated.
// When the token's scope claim already reads exactly so (the usual case), it
// is used as is, which saves joining the scopes again on every request.
func scopes(id *Identity) string {
	switch len(id.Scopes) {
	case 0:
		return ""
	case 1:
		return Sanitize(id.Scopes[0])
	}
	if s, ok := id.Claims["scope"].(string); ok && isJoined(s, id.Scopes) {
		return Sanitize(s)
	}
	return Sanitize(strings.Join(id.Scopes, " "))
}

// isJoined reports whether s equals strings.Join(parts, " "), without
// building the joined string.
func isJoined(s string, parts []string) bool {
	for i, p := range parts {
		if i > 0 {
			if s == "" || s[0] != ' ' {
				return false
			}
			s = s[1:]
		}
		if !strings.HasPrefix(s, p) {
			return false
		}
		s = s[len(p):]
	}
	return s == ""
}

// indexOf returns the index of the entry named key (normalised), or -1.
func indexOf(entries []headerEntry, key string) int {
	for i, e := range entries {
		if normalize(e.name) == key {
			return i
		}
	}
	return -1
}

// defaultNames lists the default header names for error messages.
func defaultNames() string {
	names := make([]string, len(defaultHeaders))
	for i, e := range defaultHeaders {
		names[i] = e.name
	}
	return strings.Join(names, ", ")
}

// validName checks that name is a non-empty RFC 7230 token.
func validName(name string) error {
	if name == "" {
		return fmt.Errorf("empty header name")
	}
	for i := 0; i < len(name); i++ {
		if !isTokenChar(name[i]) {
			return fmt.Errorf("character %q at position %d is not allowed in a header name (RFC 7230 token: letters, digits and !#$%%&'*+-.^_`|~)", name[i], i+1)
		}
	}
	return nil
}

// isTokenChar reports whether c is an RFC 7230 tchar.
func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// normByte lower-cases an ASCII letter and reads '_' as '-'.
func normByte(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + ('a' - 'A')
	}
	if c == '_' || c == '.' {
		// CGI-style backends (PHP, FastCGI) fold '-', '_' and '.' onto one
		// variable name, so all three spellings are the same header to them.
		return '-'
	}
	return c
}

// normalize returns name lower-cased with '_' and '.' read as '-'.
func normalize(name string) string {
	b := []byte(name)
	for i := range b {
		b[i] = normByte(b[i])
	}
	return string(b)
}

// hasPrefixNormalized reports whether key, normalised, starts with the
// normalised prefix p.
func hasPrefixNormalized(key, p string) bool {
	if len(key) < len(p) {
		return false
	}
	for i := 0; i < len(p); i++ {
		if normByte(key[i]) != p[i] {
			return false
		}
	}
	return true
}
