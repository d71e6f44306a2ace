package stsemu

import (
	"crypto/tls"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

func TestAssumeSuccessShape(t *testing.T) {
	f := setup(t, Options{})
	tok := f.idp.MintForTest(t, claims("user-123", clientA))
	before := time.Now().UTC().Truncate(time.Second)
	status, body := f.call(t, f.params(tok))
	if status != http.StatusOK {
		t.Fatalf("status %d, body %v", status, body)
	}
	for _, k := range []string{"RequestId", "AssumedRoleUser", "Credentials", "OIDCTokenInfo"} {
		if _, ok := body[k]; !ok {
			t.Errorf("answer lacks %s: %v", k, body)
		}
	}
	if _, ok := body["SourceIdentity"]; ok {
		t.Errorf("SourceIdentity present although not set: %v", body)
	}
	cr := body["Credentials"].(map[string]any)
	if id, _ := cr["AccessKeyId"].(string); !strings.HasPrefix(id, "STS.") {
		t.Errorf("AccessKeyId %q lacks the STS. prefix", id)
	}
	expS, _ := cr["Expiration"].(string)
	exp, err := time.Parse("2006-01-02T15:04:05Z", expS)
	if err != nil || !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`).MatchString(expS) {
		t.Fatalf("Expiration %q not in 2006-01-02T15:04:05Z: %v", expS, err)
	}
	if d := exp.Sub(before); d < time.Hour || d > time.Hour+5*time.Second {
		t.Errorf("Expiration is %v after the call, want about 1h", d)
	}
	aru := body["AssumedRoleUser"].(map[string]any)
	if aru["Arn"] != f.roleArn+"/gw-alice" {
		t.Errorf("AssumedRoleUser.Arn = %v", aru["Arn"])
	}
	if id, _ := aru["AssumedRoleId"].(string); !regexp.MustCompile(`^\d{18}:gw-alice$`).MatchString(id) {
		t.Errorf("AssumedRoleId = %q", id)
	}
	info := body["OIDCTokenInfo"].(map[string]any)
	if info["Subject"] != "user-123" || info["Issuer"] != f.idp.Issuer() || info["ClientIds"] != clientA || info["VerificationInfo"] != "Success" {
		t.Errorf("OIDCTokenInfo = %v", info)
	}
	issued := f.emu.Issued()
	if len(issued) != 1 || issued[0].AccessKeyID != cr["AccessKeyId"] || issued[0].SecurityToken != cr["SecurityToken"] ||
		issued[0].Subject != "user-123" || issued[0].SessionName != "gw-alice" {
		t.Errorf("Issued() = %+v", issued)
	}
	if got := f.emu.Counts()[OutcomeSuccess]; got != 1 {
		t.Errorf("Counts()[Success] = %d", got)
	}
}

func TestAssumeCredentialTTLAndSourceIdentity(t *testing.T) {
	f := setup(t, Options{CredentialTTL: 20 * time.Minute, SourceIdentityClaim: "name"})
	claims := claims("user-1", clientA)
	claims["name"] = "alice"
	status, body := f.call(t, f.params(f.idp.MintForTest(t, claims)))
	if status != http.StatusOK {
		t.Fatalf("status %d: %v", status, body)
	}
	if body["SourceIdentity"] != "alice" {
		t.Errorf("SourceIdentity = %v", body["SourceIdentity"])
	}
	exp, _ := time.Parse(timeLayout, body["Credentials"].(map[string]any)["Expiration"].(string))
	if d := time.Until(exp); d > 21*time.Minute || d < 19*time.Minute {
		t.Errorf("credentials live %v, want the 20m override", d)
	}
}

func TestAssumeOtherRequestStyles(t *testing.T) {
	f := setup(t, Options{})
	p := f.params(f.idp.MintForTest(t, claims("user-1", clientA)))

	// Everything in the query.
	q := url.Values{"Action": {"AssumeRoleWithOIDC"}, "Version": {"2015-04-01"}, "Format": {"JSON"}}
	for k, v := range p {
		q[k] = v
	}
	resp, err := http.Post(f.emu.URL()+"/?"+q.Encode(), "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	if status, body := decode(t, resp); status != http.StatusOK {
		t.Errorf("all-in-query: %d %v", status, body)
	}

	// ACS3: business parameters in the query, action and version in headers.
	req, _ := http.NewRequest(http.MethodPost, f.emu.URL()+"/?"+p.Encode(), nil)
	req.Header.Set("x-acs-action", "AssumeRoleWithOIDC")
	req.Header.Set("x-acs-version", "2015-04-01")
	req.Header.Set("x-acs-date", time.Now().UTC().Format(timeLayout))
	req.Header.Set("x-acs-signature-nonce", "abc")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if status, body := decode(t, resp); status != http.StatusOK {
		t.Errorf("ACS3 style: %d %v", status, body)
	}
}

func TestAssumeErrors(t *testing.T) {
	f := setup(t, Options{})
	good := f.idp.MintForTest(t, claims("user-1", clientA))
	// HS256, keyed with the provider's public key: alg confusion.
	hs := f.idp.MintForTest(t, claims("u", clientA), demoidp.WithAlg("HS256"))
	withClaims := func(mod func(jwt.MapClaims)) string {
		c := claims("user-1", clientA)
		mod(c)
		return f.idp.MintForTest(t, c)
	}
	// A role that trusts only sub=someone-else.
	if _, err := f.emu.CreateRole("picky", OIDCTrust(f.providerArn, f.idp.Issuer(), clientA, "someone-else"), 0); err != nil {
		t.Fatal(err)
	}
	// A provider whose thumbprint is wrong, and a role trusting it.
	if _, err := f.emu.CreateProvider(Provider{Name: "bad-fp", IssuerURL: f.idp.Issuer() + "/", ClientIDs: []string{clientA},
		Fingerprints: []string{strings.Repeat("ab", 20)}}); err != nil {
		t.Fatal(err)
	}
	// A provider whose issuer is unreachable.
	if _, err := f.emu.CreateProvider(Provider{Name: "gone", IssuerURL: "https://127.0.0.1:1", ClientIDs: []string{clientA},
		Fingerprints: []string{strings.Repeat("cd", 20)}, IssuanceLimitTime: 1}); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name   string
		mod    func(url.Values)
		status int
		code   string
	}{
		{"no role", func(v url.Values) { v.Del("RoleArn") }, 400, "MissingParameter.RoleArn"},
		{"no provider", func(v url.Values) { v.Del("OIDCProviderArn") }, 400, "MissingParameter.OIDCProviderArn"},
		{"no token", func(v url.Values) { v.Del("OIDCToken") }, 400, "MissingParameter.OIDCToken"},
		{"no session", func(v url.Values) { v.Del("RoleSessionName") }, 400, "MissingParameter.RoleSessionName"},
		{"bad role arn", func(v url.Values) { v.Set("RoleArn", "arn:aws:iam::1:role/x") }, 400, "InvalidParameter.RoleArn"},
		{"bad provider arn", func(v url.Values) { v.Set("OIDCProviderArn", "acs:ram::1:role/x") }, 400, "InvalidParameter.OIDCProviderArn"},
		{"session too short", func(v url.Values) { v.Set("RoleSessionName", "a") }, 400, "InvalidParameter.RoleSessionName"},
		{"session bad char", func(v url.Values) { v.Set("RoleSessionName", "al ice") }, 400, "InvalidParameter.RoleSessionName"},
		{"session too long", func(v url.Values) { v.Set("RoleSessionName", strings.Repeat("a", 65)) }, 400, "InvalidParameter.RoleSessionName"},
		{"duration too short", func(v url.Values) { v.Set("DurationSeconds", "899") }, 400, "InvalidParameter.DurationSeconds"},
		{"duration over role max", func(v url.Values) { v.Set("DurationSeconds", "3601") }, 400, "InvalidParameter.DurationSeconds"},
		{"duration not a number", func(v url.Values) { v.Set("DurationSeconds", "1h") }, 400, "InvalidParameter.DurationSeconds"},
		{"policy grammar", func(v url.Values) { v.Set("Policy", "{not json") }, 400, "InvalidParameter.PolicyGrammar"},
		{"policy size", func(v url.Values) { v.Set("Policy", `{"a":"`+strings.Repeat("x", 2048)+`"}`) }, 400, "InvalidParameter.PolicySize"},
		{"empty token", func(v url.Values) { v.Set("OIDCToken", "") }, 401, "AuthenticationFail.OIDCToken.Invalid"},
		{"two parts", func(v url.Values) { v.Set("OIDCToken", "eyJhbGciOiJSUzI1NiJ9.e30") }, 401, "AuthenticationFail.OIDCToken.Invalid"},
		{"too long", func(v url.Values) { v.Set("OIDCToken", strings.Repeat("a", 20001)) }, 401, "AuthenticationFail.OIDCToken.Invalid"},
		{"HS256", func(v url.Values) { v.Set("OIDCToken", hs) }, 401, "AuthenticationFail.OIDCToken.Invalid"},
		{"alg none", func(v url.Values) { v.Set("OIDCToken", "eyJhbGciOiJub25lIn0.e30.") }, 401, "AuthenticationFail.OIDCToken.Invalid"},
		{"unregistered provider", func(v url.Values) { v.Set("OIDCProviderArn", f.emu.ProviderARN("nope")) }, 401, "AuthenticationFail.NoPermission"},
		{"other account's provider", func(v url.Values) { v.Set("OIDCProviderArn", "acs:ram::2000000000000000:oidc-provider/gw-idp") }, 401, "AuthenticationFail.NoPermission"},
		{"no such role", func(v url.Values) { v.Set("RoleArn", f.emu.RoleARN("nope")) }, 404, "EntityNotExist.Role"},
		{"issuer mismatch", func(v url.Values) {
			v.Set("OIDCToken", withClaims(func(c jwt.MapClaims) { c["iss"] = "https://other.example.com" }))
		}, 401, "AuthenticationFail.OIDCToken.IssuerNotMatch"},
		{"audience mismatch", func(v url.Values) { v.Set("OIDCToken", f.idp.MintForTest(t, claims("user-1", "client-z"))) }, 401, "AuthenticationFail.OIDCToken.AudienceNotMatch"},
		{"expired", func(v url.Values) {
			v.Set("OIDCToken", withClaims(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() }))
		}, 401, "AuthenticationFail.OIDCToken.Expired"},
		{"issued too early", func(v url.Values) {
			v.Set("OIDCToken", withClaims(func(c jwt.MapClaims) { c["iat"] = time.Now().Add(-13 * time.Hour).Unix() }))
		}, 401, "AuthenticationFail.OIDCToken.Invalid"},
		{"bad signature", func(v url.Values) {
			v.Set("OIDCToken", f.idp.MintForTest(t, claims("user-1", clientA), demoidp.WithForeignKey()))
		}, 401, "AuthenticationFail.OIDCToken.InvalidSignature"},
		{"fingerprint mismatch", func(v url.Values) {
			v.Set("OIDCProviderArn", f.emu.ProviderARN("bad-fp"))
			v.Set("OIDCToken", withClaims(func(c jwt.MapClaims) { c["iss"] = f.idp.Issuer() + "/" }))
		}, 401, "AuthenticationFail.OIDCToken.PublicKeyFingerprintMismatch"},
		{"issuer unreachable", func(v url.Values) {
			v.Set("OIDCProviderArn", f.emu.ProviderARN("gone"))
			v.Set("OIDCToken", withClaims(func(c jwt.MapClaims) { c["iss"] = "https://127.0.0.1:1" }))
		}, 401, "AuthenticationFail.OIDCToken.IssuerConfigurationBroken"},
		{"trust policy", func(v url.Values) { v.Set("RoleArn", f.emu.RoleARN("picky")) }, 401, "AuthenticationFail.NoPermission"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := f.params(good)
			c.mod(p)
			status, body := f.call(t, p)
			if status != c.status || body["Code"] != c.code {
				t.Fatalf("got %d %v, want %d %s", status, body["Code"], c.status, c.code)
			}
			for _, k := range []string{"RequestId", "HostId", "Message", "Recommend"} {
				if s, _ := body[k].(string); s == "" {
					t.Errorf("error body lacks %s: %v", k, body)
				}
			}
			if msg, _ := body["Message"].(string); strings.Contains(msg, good) {
				t.Error("the message echoes the token")
			}
		})
	}
	if n := len(f.emu.Issued()); n != 0 {
		t.Errorf("%d credentials issued by failing calls", n)
	}
	if got := f.emu.Counts()["AuthenticationFail.OIDCToken.Expired"]; got != 1 {
		t.Errorf("Counts()[Expired] = %d, want 1", got)
	}
}

func TestAssumeUntrustedIdPCertificate(t *testing.T) {
	// The emulator's client does not trust the IdP's self-signed CA.
	f := setup(t, Options{HTTPClient: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{}}}})
	status, body := f.call(t, f.params(f.idp.MintForTest(t, claims("user-1", clientA))))
	if status != 401 || body["Code"] != "AuthenticationFail.OIDCToken.HttpsUrlInvalid" {
		t.Fatalf("got %d %v", status, body["Code"])
	}
}

func TestAssumeProtocolErrors(t *testing.T) {
	f := setup(t, Options{})
	post := func(query string) (int, map[string]any) {
		resp, err := http.Post(f.emu.URL()+"/?"+query, "application/x-www-form-urlencoded",
			strings.NewReader(f.params(f.idp.MintForTest(t, claims("u", clientA))).Encode()))
		if err != nil {
			t.Fatal(err)
		}
		return decode(t, resp)
	}
	if s, b := post("Action=AssumeRole&Version=2015-04-01"); s != 404 || b["Code"] != "InvalidAction.NotFound" {
		t.Errorf("wrong action: %d %v", s, b["Code"])
	}
	if s, b := post("Action=AssumeRoleWithOIDC&Version=2014-01-01"); s != 400 || b["Code"] != "InvalidVersion" {
		t.Errorf("wrong version: %d %v", s, b["Code"])
	}
	if s, b := post("Action=AssumeRoleWithOIDC&Version=2015-04-01&Timestamp=yesterday"); s != 400 || b["Code"] != "InvalidTimeStamp.Format" {
		t.Errorf("bad timestamp: %d %v", s, b["Code"])
	}
	old := time.Now().Add(-time.Hour).UTC().Format(timeLayout)
	if s, b := post("Action=AssumeRoleWithOIDC&Version=2015-04-01&Timestamp=" + url.QueryEscape(old)); s != 400 || b["Code"] != "InvalidTimeStamp.Expired" {
		t.Errorf("old timestamp: %d %v", s, b["Code"])
	}
}

func TestFaults(t *testing.T) {
	f := setup(t, Options{RetryAfter: 1500 * time.Millisecond})
	tok := f.idp.MintForTest(t, claims("user-1", clientA))

	f.emu.SetThrottle(2)
	f.emu.SetFail5xx(1)
	want := []struct {
		status int
		code   string
	}{{400, "Throttling.User"}, {400, "Throttling.User"}, {503, "ServiceUnavailable"}, {200, ""}}
	for i, w := range want {
		q := url.Values{"Action": {"AssumeRoleWithOIDC"}, "Version": {"2015-04-01"}}
		resp, err := http.Post(f.emu.URL()+"/?"+q.Encode(), "application/x-www-form-urlencoded", strings.NewReader(f.params(tok).Encode()))
		if err != nil {
			t.Fatal(err)
		}
		ra := resp.Header.Get("Retry-After")
		status, body := decode(t, resp)
		if status != w.status || (w.code != "" && body["Code"] != w.code) {
			t.Errorf("request %d: %d %v, want %d %s", i, status, body["Code"], w.status, w.code)
		}
		if w.code != "" && ra != "2" {
			t.Errorf("request %d: Retry-After %q, want 2 (1.5s rounded up)", i, ra)
		}
	}
	c := f.emu.Counts()
	if c["Throttling.User"] != 2 || c["ServiceUnavailable"] != 1 || c[OutcomeSuccess] != 1 || f.emu.Requests() != 4 {
		t.Errorf("Counts() = %v", c)
	}

	f.emu.SetHang(time.Minute)
	cl := &http.Client{Timeout: 200 * time.Millisecond}
	start := time.Now()
	_, err := cl.Post(f.emu.URL()+"/?Action=AssumeRoleWithOIDC&Version=2015-04-01", "application/x-www-form-urlencoded", strings.NewReader(f.params(tok).Encode()))
	if err == nil {
		t.Fatal("a hanging emulator answered")
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("hang not cut by the client timeout")
	}
	f.emu.SetHang(0)
	if status, body := f.call(t, f.params(tok)); status != 200 {
		t.Errorf("after SetHang(0): %d %v", status, body)
	}
}
