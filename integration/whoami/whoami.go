// Package whoami is the demo upstream for edgeauth: it answers every request
// with what it received (method, path, query, headers) and highlights the
// identity headers that edgeauth injects (X-Auth-*, X-Sts-*). Given an
// assertion.Verifier it also says whether the gateway's signed identity
// assertion verified. It speaks JSON by default and HTML to browsers.
package whoami

import (
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/edgeauth/caddy-edgeauth/assertion"
)

// IdentityPrefixes are the header name prefixes shown as identity.
var IdentityPrefixes = []string{"X-Auth-", "X-Sts-"}

// maskedHeaders are shown masked (all but the last 4 characters) in HTML.
var maskedHeaders = map[string]bool{
	"X-Sts-Access-Key-Secret": true,
	"X-Sts-Security-Token":    true,
	"X-Auth-Assertion":        true,
}

// Echo is what the handler reports about a request (the JSON body).
type Echo struct {
	Method     string              `json:"method"`
	Path       string              `json:"path"`
	RawQuery   string              `json:"raw_query,omitempty"`
	Query      map[string][]string `json:"query"`
	Host       string              `json:"host"`
	RemoteAddr string              `json:"remote_addr"`
	Headers    map[string][]string `json:"headers"`
	// Identity holds the X-Auth-* and X-Sts-* headers (values joined by ", "),
	// unmasked: JSON is for tests and scripts.
	Identity map[string]string `json:"identity"`
	// Assertion is the result of verifying the gateway's signed identity
	// assertion; only when Options.Assertion is set.
	Assertion *AssertionResult `json:"assertion,omitempty"`
}

// Options change what the handler shows.
type Options struct {
	// LogoutPath, when set, is linked as "Sign out" from the HTML page of a
	// request that carried an identity (an X-Auth-Subject header), e.g.
	// "/oauth2/logout" behind edgeauth's login. The link is same-origin, so
	// edgeauth logs out at once.
	LogoutPath string
	// Assertion, when set, verifies the gateway's signed identity assertion
	// on every request and shows "assertion verified" with the subject, or
	// "assertion not verified: <why>" (HTML and JSON). whoami still answers
	// every request: it shows, it does not refuse.
	Assertion *assertion.Verifier
	// AssertionHeader is the header holding the assertion (default
	// X-Auth-Assertion). It is masked on the HTML page.
	AssertionHeader string
}

// Handler returns the whoami handler with default options. It answers every
// path and method.
func Handler() http.Handler { return HandlerWith(Options{}) }

// HandlerWith returns the whoami handler with opts.
func HandlerWith(opts Options) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e := describe(r)
		if opts.Assertion != nil {
			e.Assertion = checkAssertion(r, opts)
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if prefersHTML(r.Header.Get("Accept")) {
			logout := ""
			if e.Identity["X-Auth-Subject"] != "" {
				logout = opts.LogoutPath
			}
			writeHTML(w, e, logout, opts.assertionHeader())
			return
		}
		writeJSON(w, e)
	})
}

func describe(r *http.Request) Echo {
	e := Echo{
		Method:     r.Method,
		Path:       r.URL.Path,
		RawQuery:   r.URL.RawQuery,
		Query:      map[string][]string{},
		Host:       r.Host,
		RemoteAddr: r.RemoteAddr,
		Headers:    map[string][]string{},
		Identity:   map[string]string{},
	}
	if q, err := url.ParseQuery(r.URL.RawQuery); err == nil {
		e.Query = q
	}
	for name, values := range r.Header {
		e.Headers[name] = values
		if isIdentity(name) {
			e.Identity[http.CanonicalHeaderKey(name)] = strings.Join(values, ", ")
		}
	}
	return e
}

func isIdentity(name string) bool {
	canon := http.CanonicalHeaderKey(name)
	for _, p := range IdentityPrefixes {
		if strings.HasPrefix(canon, p) {
			return true
		}
	}
	return false
}

// mask hides all but the last 4 characters, without revealing the length.
func mask(v string) string {
	r := []rune(v)
	if len(r) <= 4 {
		return "••••"
	}
	return "••••••••" + string(r[len(r)-4:])
}

// sortedNames returns the keys of m in order.
func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
