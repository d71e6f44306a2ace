// Package endpoint checks the URLs edgeauth sends requests to or names as
// issuers: absolute, https, and plain http only on a loopback host (for
// development, where a TLS certificate is a chore and nothing leaves the
// machine). Providers, STS clients and the assertion signer all use it, so
// "http only for loopback" means the same everywhere.
package endpoint

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// IsLoopbackHost reports whether host (without port, brackets allowed) is
// "localhost" or a loopback IP address (127.0.0.0/8, ::1). A trailing dot
// and letter case are ignored.
func IsLoopbackHost(host string) bool {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsLoopback()
}

// Parse parses an absolute http(s) URL with a host, allowing http only for
// loopback hosts. Errors say what to write instead and never repeat the URL
// (callers name the setting and the value).
func Parse(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("not a valid URL (%v); give an absolute https URL", err)
	}
	if !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("must be an absolute URL such as https://idp.example.com")
	}
	if err := CheckScheme(u); err != nil {
		return nil, err
	}
	return u, nil
}

// CheckScheme accepts https, and http on a loopback host.
func CheckScheme(u *url.URL) error {
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if IsLoopbackHost(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("must use https (http is allowed only for loopback hosts)")
	}
	return fmt.Errorf("scheme %q not supported; use https", u.Scheme)
}

// RoutedHost is the request's Host as far as the gateway can vouch for it:
// the name the client sent (Caddy's host matchers routed on it) and, when
// the Host names a port, the port of the listener that took the connection
// instead. Caddy's host matchers ignore the port, so a Host port is the
// client's free choice; anything that names this site's origin to someone
// else (an assertion's audience, the URL a DPoP proof must name) uses this.
// A Host without a port is returned as it is (a load balancer in front
// sends the public name without one).
func RoutedHost(r *http.Request) string {
	host := r.Host
	i := strings.LastIndexByte(host, ':')
	if i < 0 || strings.HasSuffix(host, "]") {
		return host
	}
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return host
	}
	_, port, err := net.SplitHostPort(local.String())
	if err != nil {
		return host
	}
	return host[:i+1] + port
}
