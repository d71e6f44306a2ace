package stsemu

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/credentials-go/credentials/providers"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// trustForSDK makes credentials-go, which always speaks https and clones
// http.DefaultTransport, trust the emulator's certificate for this test.
func trustForSDK(t *testing.T, emu *Server) {
	t.Helper()
	cert, err := x509.ParseCertificate(emu.Certificate())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	tr := http.DefaultTransport.(*http.Transport)
	old := tr.TLSClientConfig
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	t.Cleanup(func() { tr.TLSClientConfig = old })
}

// TestCredentialsGoSDK drives the emulator with Alibaba's own
// credentials-go OIDC provider, reading the token from a file.
func TestCredentialsGoSDK(t *testing.T) {
	idp := demoidp.ForTest(t, demoidp.Options{})
	emu := New(Options{HTTPClient: idp.Client()})
	emu.StartTLS()
	defer emu.Close()
	trustForSDK(t, emu)

	if _, err := emu.CreateProvider(Provider{Name: "gw-idp", IssuerURL: idp.Issuer(),
		ClientIDs: []string{clientA}, Fingerprints: []string{strings.ToUpper(idp.CAThumbprint())}}); err != nil {
		t.Fatal(err)
	}
	if _, err := emu.CreateRole("gw-role", OIDCTrust(emu.ProviderARN("gw-idp"), idp.Issuer(), clientA, "workload-1"), 7200*time.Second); err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(idp.MintForTest(t, claims("workload-1", clientA))), 0o600); err != nil {
		t.Fatal(err)
	}

	p, err := providers.NewOIDCCredentialsProviderBuilder().
		WithOIDCProviderARN(emu.ProviderARN("gw-idp")).
		WithOIDCTokenFilePath(tokenFile).
		WithRoleArn(emu.RoleARN("gw-role")).
		WithRoleSessionName("sdk-session").
		WithDurationSeconds(7200).
		WithPolicy(`{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:GetObject","Resource":"*"}]}`).
		WithSTSEndpoint(emu.Addr()).
		Build()
	if err != nil {
		t.Fatal(err)
	}
	cc, err := p.GetCredentials()
	if err != nil {
		t.Fatalf("credentials-go rejected the emulator: %v", err)
	}
	issued := emu.Issued()
	if len(issued) != 1 {
		t.Fatalf("Issued() = %d entries", len(issued))
	}
	is := issued[0]
	if cc.AccessKeyId != is.AccessKeyID || cc.AccessKeySecret != is.AccessKeySecret || cc.SecurityToken != is.SecurityToken {
		t.Error("the SDK got other credentials than the emulator issued")
	}
	if is.SessionName != "sdk-session" || is.DurationSeconds != 7200 || !strings.Contains(is.Policy, "oss:GetObject") || is.Subject != "workload-1" {
		t.Errorf("the emulator parsed the SDK request as %+v", is)
	}

	// A token that the role does not trust: the SDK reports the STS error.
	if err := os.WriteFile(tokenFile, []byte(idp.MintForTest(t, claims("intruder", clientA))), 0o600); err != nil {
		t.Fatal(err)
	}
	p2, err := providers.NewOIDCCredentialsProviderBuilder().WithOIDCProviderARN(emu.ProviderARN("gw-idp")).
		WithOIDCTokenFilePath(tokenFile).WithRoleArn(emu.RoleARN("gw-role")).WithSTSEndpoint(emu.Addr()).Build()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p2.GetCredentials(); err == nil || !strings.Contains(err.Error(), "AuthenticationFail.NoPermission") {
		t.Errorf("untrusted subject: err = %v", err)
	}
	if c := emu.Counts(); c[OutcomeSuccess] != 1 || c["AuthenticationFail.NoPermission"] != 1 {
		t.Errorf("Counts() = %v", c)
	}
}
