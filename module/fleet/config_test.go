package fleet

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	ok := []Config{
		{Addrs: []string{"127.0.0.1:6379"}},
		{Addrs: []string{"redis.internal:6379"}, DB: 3, Password: "pw"},
		{Addrs: []string{"a:7000", "b:7001"}, Cluster: true},
		{Addrs: []string{"s1:26379", "s2:26379"}, MasterName: "mymaster", DB: 1},
	}
	for _, c := range ok {
		if err := c.Validate(); err != nil {
			t.Errorf("%v: %v", c.Addrs, err)
		}
	}
	bad := map[string]Config{
		"no address":        {},
		"no port":           {Addrs: []string{"127.0.0.1"}},
		"cluster db":        {Addrs: []string{"a:1"}, Cluster: true, DB: 2},
		"cluster+sentinel":  {Addrs: []string{"a:1"}, Cluster: true, MasterName: "m"},
		"negative db":       {Addrs: []string{"a:1"}, DB: -1},
		"prefix with space": {Addrs: []string{"a:1"}, KeyPrefix: "edge auth:"},
	}
	for name, c := range bad {
		c.Password = "hunter2-secret"
		err := c.Validate()
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: error shows the password", name)
		}
		if _, err := New(c); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
	c := Config{Addrs: []string{"a:1"}}
	c.withDefaults()
	if c.KeyPrefix != "edgeauth:" || c.DialTimeout != 500*time.Millisecond || c.PoolTimeout != time.Second || c.RetryInterval != time.Second {
		t.Errorf("defaults: %+v", c)
	}
}

func TestTLSFromCA(t *testing.T) {
	if _, err := TLSFromCA(filepath.Join(t.TempDir(), "missing.pem"), ""); err == nil {
		t.Error("missing CA file accepted")
	}
	junk := filepath.Join(t.TempDir(), "junk.pem")
	_ = os.WriteFile(junk, []byte("not a certificate"), 0o600)
	if _, err := TLSFromCA(junk, ""); err == nil {
		t.Error("file without PEM certificates accepted")
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "redis CA"}, IsCA: true,
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	_ = os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	cfg, err := TLSFromCA(ca, "redis.internal")
	if err != nil || cfg.RootCAs == nil || cfg.ServerName != "redis.internal" || cfg.MinVersion < 0x0303 {
		t.Fatalf("TLSFromCA: %+v, %v", cfg, err)
	}
	cert, _ := x509.ParseCertificate(der)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: cfg.RootCAs}); err != nil {
		t.Errorf("the CA is not trusted by the returned pool: %v", err)
	}
}
