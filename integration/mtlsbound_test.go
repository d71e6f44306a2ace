package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// testCA is a throw-away certificate authority for TLS tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "edgeauth mTLS test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key}
}

// issue signs a leaf: a server certificate for localhost, or a client one.
func (ca *testCA) issue(t *testing.T, name string, server bool) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// writePEM writes a certificate and its key to files and returns their paths.
func writeCertFiles(t *testing.T, c tls.Certificate) (string, string) {
	t.Helper()
	keyDER, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile := writeFile(t, "server.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]})))
	keyFile := writeFile(t, "server.key", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})))
	return certFile, keyFile
}

// TestMTLSBoundTokens: Caddy asks for client certificates on loopback
// (`tls { client_auth { mode request } }`); a token bound to one
// certificate (cnf["x5t#S256"]) passes only on a connection that presented
// that certificate, and the upstream sees X-Auth-Token-Binding: mtls. With
// another certificate or none it is 401 invalid_token.
func TestMTLSBoundTokens(t *testing.T) {
	e := newEnv(t, demoidp.Options{})
	ca := newTestCA(t)
	certFile, keyFile := writeCertFiles(t, ca.issue(t, "localhost", true))
	// A host name, not an IP: with client_auth Caddy requires the Host to
	// match the TLS server name (strict_sni_host), and clients send none
	// for an IP address.
	site := fmt.Sprintf(`https://localhost:%d {
	tls %s %s {
		client_auth {
			mode request
		}
	}
	edgeauth demo
	reverse_proxy %s
}
`, e.port, certFile, keyFile, e.upstream)
	e.start(e.globals(e.providerBlock("demo")) + site)

	mine := ca.issue(t, "client one", false)
	theirs := ca.issue(t, "client two", false)
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	client := func(certs ...tls.Certificate) *http.Client {
		dialer := &net.Dialer{Timeout: 5 * time.Second}
		tr := &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs},
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return dialer.DialContext(ctx, network, fmt.Sprintf("127.0.0.1:%d", e.port))
			},
		}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr, Timeout: 10 * time.Second}
	}
	get := func(c *http.Client, token string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("https://localhost:%d/x", e.port), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, body
	}
	bound := e.mint(map[string]any{"sub": "alice"}, demoidp.WithCertificate(mine.Certificate[0]))
	withMine := client(mine)
	waitFor(t, "the provider's keys", 10*time.Second, func() bool {
		resp, _ := get(withMine, bound)
		return resp.StatusCode == http.StatusOK
	})
	t.Run("with its certificate", func(t *testing.T) {
		got := e.upstreamSaw(get(withMine, bound))
		if b := got.header("X-Auth-Token-Binding"); b != "mtls" {
			t.Fatalf("X-Auth-Token-Binding = %q, want mtls", b)
		}
	})
	t.Run("with another certificate", func(t *testing.T) {
		resp, body := get(client(theirs), bound)
		assertError(t, resp, body, http.StatusUnauthorized, "invalid_token")
	})
	t.Run("without a certificate", func(t *testing.T) {
		resp, body := get(client(), bound)
		assertError(t, resp, body, http.StatusUnauthorized, "invalid_token")
	})
	t.Run("unbound token with a certificate", func(t *testing.T) {
		got := e.upstreamSaw(get(withMine, e.mint(map[string]any{"sub": "bob"})))
		if b := got.header("X-Auth-Token-Binding"); b != "" {
			t.Fatalf("X-Auth-Token-Binding = %q for an unbound token", b)
		}
	})
}
