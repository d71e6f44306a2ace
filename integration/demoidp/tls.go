package demoidp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// authority is the in-memory CA and the loopback leaf certificate it signed.
type authority struct {
	caDER    []byte
	caCert   *x509.Certificate
	leafCert *x509.Certificate
	leaf     tls.Certificate // leaf + CA in the chain
	caPEM    []byte
	rootSet  *x509.CertPool
}

func newAuthority() (*authority, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("demoidp: generating CA key: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "edgeauth demo IdP CA", Organization: []string{"edgeauth demo"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("demoidp: creating CA certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("demoidp: parsing CA certificate: %w", err)
	}

	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("demoidp: generating leaf key: %w", err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(7 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("demoidp: creating leaf certificate: %w", err)
	}
	leafCert, err := x509.ParseCertificate(leafDER)
	if err != nil {
		return nil, fmt.Errorf("demoidp: parsing leaf certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return &authority{
		caDER:    caDER,
		caCert:   caCert,
		leafCert: leafCert,
		leaf: tls.Certificate{
			Certificate: [][]byte{leafDER, caDER},
			PrivateKey:  leafKey,
		},
		caPEM:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		rootSet: pool,
	}, nil
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic("demoidp: crypto/rand failed: " + err.Error())
	}
	return n
}

// CACertPEM returns the PEM of the CA that signed the server certificate
// (nil with PlainHTTP).
func (s *Server) CACertPEM() []byte {
	if s.ca == nil {
		return nil
	}
	return append([]byte(nil), s.ca.caPEM...)
}

// CACert returns the parsed CA certificate (nil with PlainHTTP).
func (s *Server) CACert() *x509.Certificate {
	if s.ca == nil {
		return nil
	}
	return s.ca.caCert
}

// LeafCert returns the parsed server certificate, which names 127.0.0.1,
// ::1 and localhost (nil with PlainHTTP).
func (s *Server) LeafCert() *x509.Certificate {
	if s.ca == nil {
		return nil
	}
	return s.ca.leafCert
}

// WriteCAFile writes the CA certificate as demoidp-ca.pem into dir and
// returns its path, for configs such as `tls_ca`.
func (s *Server) WriteCAFile(dir string) (string, error) {
	if s.ca == nil {
		return "", fmt.Errorf("demoidp: no CA: the server runs with PlainHTTP")
	}
	p := filepath.Join(dir, "demoidp-ca.pem")
	if err := os.WriteFile(p, s.ca.caPEM, 0o644); err != nil {
		return "", fmt.Errorf("demoidp: writing CA file: %w", err)
	}
	return p, nil
}

// CAThumbprint returns the lowercase hex SHA-1 of the CA certificate's DER,
// which is what Alibaba Cloud RAM calls the OIDC IdP fingerprint
// ("" with PlainHTTP).
func (s *Server) CAThumbprint() string {
	if s.ca == nil {
		return ""
	}
	sum := sha1.Sum(s.ca.caDER)
	return hex.EncodeToString(sum[:])
}

// Client returns a new HTTP client that trusts the server's CA (and only that
// CA: system roots are not included). It follows redirects like any http.Client;
// set CheckRedirect to http.ErrUseLastResponse to inspect Location headers.
func (s *Server) Client() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = s.TLSConfig()
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// TLSConfig returns a client TLS config that trusts the server's CA (nil with
// PlainHTTP).
func (s *Server) TLSConfig() *tls.Config {
	if s.ca == nil {
		return nil
	}
	return &tls.Config{RootCAs: s.ca.rootSet, MinVersion: tls.VersionTLS12}
}
