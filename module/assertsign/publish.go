package assertsign

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/edgeauth/caddy-edgeauth/module/endpoint"
)

// The paths every edgeauth handler answers, before its rules and without a
// credential, when the assertion is configured.
const (
	JWKSPath      = "/.well-known/edgeauth/jwks.json"
	DiscoveryPath = "/.well-known/edgeauth/openid-configuration"
)

// maxPublishAge is the Cache-Control max-age of both documents with a key
// file (keys change only with a reload). With generated keys it is the
// time a rotated key is published before it signs (Signer.maxAge), so even
// a verifier that never refetches on an unknown kid has the new key in time.
const maxPublishAge = 300

// claimsSupported lists the claims an assertion may carry.
var claimsSupported = []string{"iss", "aud", "sub", "iat", "exp", "jti", "idp", "provider", "scope",
	"aid", "uid", "type", "login_name", "upn", "name", "email", "client_id", "role_arn", "cnf"}

// ServeWellKnown answers GET and HEAD on JWKSPath and DiscoveryPath (405
// for other methods) and reports whether the request was one of them.
// Other paths are left to the caller.
func (s *Signer) ServeWellKnown(w http.ResponseWriter, r *http.Request) bool {
	var body func() ([]byte, error)
	switch r.URL.Path {
	case JWKSPath:
		body = func() ([]byte, error) {
			ring, err := s.current(r.Context())
			if err != nil {
				return nil, err
			}
			return ring.jwks, nil
		}
	case DiscoveryPath:
		body = func() ([]byte, error) { return s.discovery(), nil }
	default:
		return false
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return true
	}
	b, err := body()
	if err != nil {
		w.Header().Set("Retry-After", strconv.Itoa(int(retryAfter.Seconds())))
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "the assertion keys are not available yet", http.StatusServiceUnavailable)
		return true
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(s.maxAge()))
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(b)
	}
	return true
}

// discovery is the OpenID-style discovery document: the issuer, the JWKS
// under the issuer, and what a verifier needs to know to check an
// assertion as it checks an ID token. Nothing in it comes from the request:
// a jwks_uri built from the Host header would let a client name the key
// location the gateway publishes under its issuer (and a shared cache keep
// that answer for everyone).
func (s *Signer) discovery() []byte {
	doc := struct {
		Issuer          string   `json:"issuer"`
		JWKSURI         string   `json:"jwks_uri"`
		SigningAlgs     []string `json:"id_token_signing_alg_values_supported"`
		SubjectTypes    []string `json:"subject_types_supported"`
		ClaimsSupported []string `json:"claims_supported"`
	}{
		Issuer:          s.cfg.Issuer,
		JWKSURI:         strings.TrimSuffix(s.cfg.Issuer, "/") + JWKSPath,
		SigningAlgs:     []string{s.cfg.Algorithm},
		SubjectTypes:    []string{"public"},
		ClaimsSupported: claimsSupported,
	}
	b, _ := json.Marshal(doc)
	return b
}

// DefaultHeader is the request header that carries the assertion to the
// upstream unless a route renames it.
const DefaultHeader = "X-Auth-Assertion"

// Origin is the request's origin as Caddy routed it: `https` on a TLS
// connection, else `http`, then `://`, the Host's name (lower case) and the
// port of the listener that took the connection, left out when it is the
// scheme's default. It is the default audience of a route's assertions.
//
// The port is never the Host header's: Caddy's host matchers ignore the
// port, so a client could otherwise have the gateway sign an assertion for
// another origin (app.example.com:8443) on a route it may use. A Host
// without a port keeps the scheme's default, as a load balancer in front
// forwards it. The name is the client's choice only on a site without a
// host matcher: give such routes a fixed audience (README).
func Origin(r *http.Request) string {
	scheme, defPort := "http", ":80"
	if r.TLS != nil {
		scheme, defPort = "https", ":443"
	}
	return scheme + "://" + strings.TrimSuffix(strings.ToLower(endpoint.RoutedHost(r)), defPort)
}

// maxAge is the documents' Cache-Control max-age in seconds.
func (s *Signer) maxAge() int {
	if s.cfg.KeyFile != "" {
		return maxPublishAge
	}
	return min(maxPublishAge, int(s.sched.lead.Seconds()))
}
