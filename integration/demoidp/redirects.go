package demoidp

import (
	"net/url"
	"slices"

	"github.com/edgeauth/caddy-edgeauth/module/endpoint"
)

// redirectAllowed reports whether uri is registered for c (exact match) or,
// with AllowLoopbackRedirects, is an http(s) URL on a loopback host.
func redirectAllowed(c Client, registered []string, uri string) bool {
	u, err := url.Parse(uri)
	if err != nil || !u.IsAbs() || u.Fragment != "" || u.User != nil || u.Host == "" {
		return false
	}
	if slices.Contains(registered, uri) {
		return true
	}
	return c.AllowLoopbackRedirects && isLoopbackURL(u)
}

// isLoopbackURL reports whether u is an http(s) URL on a loopback host, by
// the gateway's own notion of loopback (endpoint.IsLoopbackHost).
func isLoopbackURL(u *url.URL) bool {
	return (u.Scheme == "http" || u.Scheme == "https") && endpoint.IsLoopbackHost(u.Hostname())
}

// withParams adds params to uri's query, keeping what it already had.
func withParams(uri string, params map[string]string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return uri // validated before; cannot happen
	}
	q := u.Query()
	for k, v := range params {
		if v != "" {
			q.Set(k, v)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}
