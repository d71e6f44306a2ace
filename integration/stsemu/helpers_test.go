package stsemu

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

const clientA = "client-a"

type fixture struct {
	idp         *demoidp.Server
	emu         *Server
	providerArn string
	roleArn     string
}

// setup starts a TLS IdP and an emulator that trusts it, registers the IdP as
// "gw-idp" (client-a, its thumbprint) and a role "gw-role" trusting it for
// aud client-a.
func setup(t *testing.T, opts Options) *fixture {
	t.Helper()
	// The test provider presents its CA, so the CA's thumbprint is its
	// RAM fingerprint.
	idp := demoidp.ForTest(t, demoidp.Options{})
	if opts.HTTPClient == nil {
		opts.HTTPClient = idp.Client()
	}
	emu := New(opts)
	emu.Start()
	t.Cleanup(emu.Close)
	if _, err := emu.CreateProvider(Provider{Name: "gw-idp", IssuerURL: idp.Issuer(),
		ClientIDs: []string{clientA}, Fingerprints: []string{idp.CAThumbprint()}}); err != nil {
		t.Fatal(err)
	}
	f := &fixture{idp: idp, emu: emu, providerArn: emu.ProviderARN("gw-idp"), roleArn: emu.RoleARN("gw-role")}
	if _, err := emu.CreateRole("gw-role", OIDCTrust(f.providerArn, idp.Issuer(), clientA, ""), 0); err != nil {
		t.Fatal(err)
	}
	return f
}

// claims are sub and aud; Mint adds iss, iat and exp (in an hour).
func claims(sub, aud string) jwt.MapClaims { return jwt.MapClaims{"sub": sub, "aud": aud} }

// params are the business parameters of a good request.
func (f *fixture) params(token string) url.Values {
	return url.Values{
		"RoleArn":         {f.roleArn},
		"OIDCProviderArn": {f.providerArn},
		"OIDCToken":       {token},
		"RoleSessionName": {"gw-alice"},
		"DurationSeconds": {"3600"},
	}
}

// call posts in credentials-go's style: Action & co. in the query, the rest
// in the form body.
func (f *fixture) call(t *testing.T, form url.Values) (int, map[string]any) {
	t.Helper()
	q := url.Values{"Action": {"AssumeRoleWithOIDC"}, "Format": {"JSON"}, "Version": {"2015-04-01"},
		"Timestamp": {time.Now().UTC().Format(timeLayout)}}
	resp, err := http.Post(f.emu.URL()+"/?"+q.Encode(), "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, resp)
}

func decode(t *testing.T, resp *http.Response) (int, map[string]any) {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("answer is not JSON (HTTP %d): %s", resp.StatusCode, b)
	}
	return resp.StatusCode, m
}
