package oidc

import (
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Thumbprint returns the lowercase hex SHA-1 of a certificate's DER
// encoding, the form used by the thumbprints setting.
func Thumbprint(cert *x509.Certificate) string {
	sum := sha1.Sum(cert.Raw)
	return hex.EncodeToString(sum[:])
}

// loadRoots returns the system roots plus the certificates of the PEM file
// at path (when set).
func loadRoots(path string) (*x509.CertPool, error) {
	if path == "" {
		return nil, nil // nil RootCAs: the system roots
	}
	pemBytes, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tls_ca %q: cannot read the file: %v; give the path of a readable PEM file", path, err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("tls_ca %q: no PEM certificate found; the file must hold one or more \"-----BEGIN CERTIFICATE-----\" blocks", path)
	}
	return pool, nil
}

// pinChecker verifies that a TLS chain contains a pinned certificate.
type pinChecker struct {
	thumbprints []string // normalised
	logger      *zap.Logger
}

func (pc *pinChecker) verify(cs tls.ConnectionState) error {
	if len(pc.thumbprints) == 0 {
		return nil
	}
	var top *x509.Certificate
	check := func(c *x509.Certificate) bool {
		return slices.Contains(pc.thumbprints, Thumbprint(c))
	}
	for _, c := range cs.PeerCertificates {
		if check(c) {
			return nil
		}
		top = c
	}
	for _, chain := range cs.VerifiedChains {
		for _, c := range chain {
			if check(c) {
				return nil
			}
		}
		if len(chain) > 0 {
			top = chain[len(chain)-1]
		}
	}
	observed := ""
	if top != nil {
		observed = Thumbprint(top)
	}
	pc.logger.Error("TLS certificate thumbprint of the JWKS host did not match",
		zap.String("server_name", cs.ServerName),
		zap.String("observed_top_thumbprint", observed),
		zap.Strings("configured_thumbprints", pc.thumbprints))
	return fmt.Errorf("certificate thumbprint did not match any configured thumbprint (top of chain: %s); update thumbprints to the JWKS host's CA certificate", observed)
}

// hostRouter sends requests for the JWKS host through the pinned transport
// and every other request through the plain one.
type hostRouter struct {
	plain, pinned *http.Transport
	pinHost       atomic.Pointer[string] // host[:port] of jwks_uri, lowercased
}

// RoundTrip implements http.RoundTripper.
func (h *hostRouter) RoundTrip(r *http.Request) (*http.Response, error) {
	if ph := h.pinHost.Load(); ph != nil && h.pinned != nil && r.URL != nil && strings.EqualFold(canonicalHost(r.URL.Scheme, r.URL.Host), *ph) {
		return h.pinned.RoundTrip(r)
	}
	return h.plain.RoundTrip(r)
}

func (h *hostRouter) closeIdle() {
	h.plain.CloseIdleConnections()
	if h.pinned != nil {
		h.pinned.CloseIdleConnections()
	}
}

// canonicalHost returns host:port with the scheme's default port filled in.
func canonicalHost(scheme, hostport string) string {
	if _, _, err := net.SplitHostPort(hostport); err == nil {
		return strings.ToLower(hostport)
	}
	port := "443"
	if scheme == "http" {
		port = "80"
	}
	return strings.ToLower(net.JoinHostPort(strings.Trim(hostport, "[]"), port))
}

func newTransport(roots *x509.CertPool, timeout time.Duration, verify func(tls.ConnectionState) error) *http.Transport {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          16,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig: &tls.Config{
			RootCAs:          roots,
			MinVersion:       tls.VersionTLS12,
			VerifyConnection: verify,
		},
	}
}

// errRedirect is returned for any redirect: provider endpoints are used as
// configured or discovered, never where a response points.
var errRedirect = errors.New("redirects are not followed; configure the final URL")

// newHTTPClient builds the provider's client: system roots plus tls_ca,
// timeouts, no redirects, and thumbprint pinning for the JWKS host.
func newHTTPClient(cfg Config, thumbprints []string, logger *zap.Logger) (*http.Client, *hostRouter, error) {
	roots, err := loadRoots(cfg.TLSCA)
	if err != nil {
		return nil, nil, err
	}
	router := &hostRouter{plain: newTransport(roots, cfg.HTTPTimeout, nil)}
	if len(thumbprints) > 0 {
		pc := &pinChecker{thumbprints: thumbprints, logger: logger}
		router.pinned = newTransport(roots, cfg.HTTPTimeout, pc.verify)
	}
	client := &http.Client{
		Transport: router,
		Timeout:   cfg.HTTPTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return errRedirect
		},
	}
	return client, router, nil
}

// NewCAClient returns an HTTP client for a service other than a provider
// (an STS, a token endpoint): it trusts the system roots plus the PEM file
// caFile (when set), follows no redirects and gives up after timeout.
func NewCAClient(caFile string, timeout time.Duration) (*http.Client, error) {
	roots, err := loadRoots(caFile)
	if err != nil {
		return nil, err
	}
	return &http.Client{
		Transport: newTransport(roots, timeout, nil),
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return errRedirect
		},
	}, nil
}
