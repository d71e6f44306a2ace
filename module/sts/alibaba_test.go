package sts

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
	"github.com/edgeauth/caddy-edgeauth/integration/stsemu"
	"github.com/edgeauth/caddy-edgeauth/module/logsafe"
	"github.com/golang-jwt/jwt/v5"
)

const clientA = "client-a"

// claims are sub and aud; Mint adds iss, iat and exp (in an hour).
func claims(sub, aud string) jwt.MapClaims { return jwt.MapClaims{"sub": sub, "aud": aud} }

type emuFixture struct {
	idp    *demoidp.Server
	emu    *stsemu.Server
	client *Alibaba
	req    Request
}

func newEmu(t *testing.T, opts stsemu.Options, cfg AlibabaConfig) *emuFixture {
	t.Helper()
	idp := demoidp.ForTest(t, demoidp.Options{})
	opts.HTTPClient = idp.Client()
	emu := stsemu.New(opts)
	emu.Start()
	t.Cleanup(emu.Close)
	if _, err := emu.CreateProvider(stsemu.Provider{Name: "gw-idp", IssuerURL: idp.Issuer(),
		ClientIDs: []string{clientA}, Fingerprints: []string{idp.CAThumbprint()}}); err != nil {
		t.Fatal(err)
	}
	if _, err := emu.CreateRole("gw-role", stsemu.OIDCTrust(emu.ProviderARN("gw-idp"), idp.Issuer(), clientA, ""), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := emu.CreateRole("alice-only", stsemu.OIDCTrust(emu.ProviderARN("gw-idp"), idp.Issuer(), clientA, "alice"), 0); err != nil {
		t.Fatal(err)
	}
	cfg.Endpoint = emu.URL()
	c, err := NewAlibaba(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &emuFixture{idp: idp, emu: emu, client: c, req: Request{
		Token:       idp.MintForTest(t, claims("user-123", clientA)),
		RoleARN:     emu.RoleARN("gw-role"),
		ProviderARN: emu.ProviderARN("gw-idp"),
		SessionName: "gw-user-123",
		Duration:    time.Hour,
	}}
}

func asError(t *testing.T, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not *sts.Error", err, err)
	}
	return e
}

func TestAlibabaHappyPath(t *testing.T) {
	f := newEmu(t, stsemu.Options{}, AlibabaConfig{})
	f.req.Policy = `{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:GetObject","Resource":"*"}]}`
	c, err := f.client.Exchange(context.Background(), f.req)
	if err != nil {
		t.Fatal(err)
	}
	is := f.emu.Issued()
	if len(is) != 1 {
		t.Fatalf("emulator issued %d", len(is))
	}
	got := is[0]
	if c.AccessKeyID != got.AccessKeyID || c.AccessKeySecret != got.AccessKeySecret || c.SecurityToken != got.SecurityToken ||
		!c.Expiration.Equal(got.Expiration) {
		t.Errorf("credentials differ from what the emulator issued")
	}
	if c.Subject != "user-123" || c.Issuer != f.idp.Issuer() || c.RequestID != got.RequestID ||
		c.AssumedRoleARN != f.req.RoleARN+"/gw-user-123" || !strings.HasSuffix(c.AssumedRoleID, ":gw-user-123") {
		t.Errorf("metadata: %+v", c)
	}
	if got.Policy != f.req.Policy || got.SessionName != "gw-user-123" || got.DurationSeconds != 3600 {
		t.Errorf("the emulator received %+v", got)
	}
}

func TestAlibabaErrorMapping(t *testing.T) {
	f := newEmu(t, stsemu.Options{}, AlibabaConfig{})
	withClaims := func(mod func(jwt.MapClaims)) string {
		c := claims("user-123", clientA)
		mod(c)
		return f.idp.MintForTest(t, c)
	}
	cases := []struct {
		name   string
		mod    func(*Request)
		kind   ErrorKind
		code   string
		status int
	}{
		{"expired", func(r *Request) {
			r.Token = withClaims(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() })
		},
			InvalidToken, "AuthenticationFail.OIDCToken.Expired", 401},
		{"audience", func(r *Request) { r.Token = f.idp.MintForTest(t, claims("u", "client-z")) }, InvalidToken, "AuthenticationFail.OIDCToken.AudienceNotMatch", 401},
		{"issuer", func(r *Request) { r.Token = withClaims(func(c jwt.MapClaims) { c["iss"] = "https://x.example.com" }) }, InvalidToken, "AuthenticationFail.OIDCToken.IssuerNotMatch", 401},
		{"signature", func(r *Request) { r.Token = f.idp.MintForTest(t, claims("u", clientA), demoidp.WithForeignKey()) }, InvalidToken, "AuthenticationFail.OIDCToken.InvalidSignature", 401},
		{"garbage token", func(r *Request) { r.Token = "not-a-jwt" }, InvalidToken, "AuthenticationFail.OIDCToken.Invalid", 401},
		{"trust policy", func(r *Request) { r.RoleARN = f.emu.RoleARN("alice-only") }, Forbidden, "AuthenticationFail.NoPermission", 401},
		{"unregistered provider", func(r *Request) { r.ProviderARN = f.emu.ProviderARN("nope") }, Forbidden, "AuthenticationFail.NoPermission", 401},
		{"no such role", func(r *Request) { r.RoleARN = f.emu.RoleARN("nope") }, Misconfigured, "EntityNotExist.Role", 404},
		{"bad role arn", func(r *Request) { r.RoleARN = "acs:ram::1:rolex" }, Misconfigured, "InvalidParameter.RoleArn", 400},
		{"duration over max", func(r *Request) { r.Duration = 2 * time.Hour }, Misconfigured, "InvalidParameter.DurationSeconds", 400},
		{"session name", func(r *Request) { r.SessionName = "bad name" }, Misconfigured, "InvalidParameter.RoleSessionName", 400},
		{"policy", func(r *Request) { r.Policy = "{" }, Misconfigured, "InvalidParameter.PolicyGrammar", 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := f.req
			c.mod(&r)
			before := f.emu.Requests()
			_, err := f.client.Exchange(context.Background(), r)
			e := asError(t, err)
			if e.Kind != c.kind || e.Code != c.code || e.HTTPStatus != c.status || e.RequestID == "" || e.Message == "" {
				t.Fatalf("got %+v, want kind %v code %s", e, c.kind, c.code)
			}
			if strings.Contains(e.Error(), r.Token) {
				t.Error("error string contains the token")
			}
			if n := f.emu.Requests() - before; n != 1 {
				t.Errorf("%d requests for a non-retryable error, want 1", n)
			}
		})
	}
	wantStatus := map[ErrorKind]int{InvalidToken: 401, Forbidden: 403, Misconfigured: 502, Unavailable: 503}
	for k, s := range wantStatus {
		if got := (&Error{Kind: k}).Status(); got != s {
			t.Errorf("%v.Status() = %d, want %d", k, got, s)
		}
	}
}

func TestAlibabaRetries(t *testing.T) {
	f := newEmu(t, stsemu.Options{}, AlibabaConfig{})
	// Two throttled answers, then success: three requests in all.
	f.emu.SetThrottle(2)
	if _, err := f.client.Exchange(context.Background(), f.req); err != nil {
		t.Fatalf("after 2 throttles: %v", err)
	}
	if c := f.emu.Counts(); c["Throttling.User"] != 2 || c[stsemu.OutcomeSuccess] != 1 {
		t.Errorf("counts %v", c)
	}
	// Persistent 5xx: gives up after 3 attempts with Unavailable.
	f.emu.SetFail5xx(10)
	_, err := f.client.Exchange(context.Background(), f.req)
	e := asError(t, err)
	if e.Kind != Unavailable || e.Code != "ServiceUnavailable" || e.HTTPStatus != 503 || e.RetryAfter != DefaultRetryAfter {
		t.Errorf("got %+v", e)
	}
	if c := f.emu.Counts(); c["ServiceUnavailable"] != 3 {
		t.Errorf("5xx attempts = %d, want 3", c["ServiceUnavailable"])
	}
	f.emu.SetFail5xx(0)
	f.emu.SetThrottle(10)
	_, err = f.client.Exchange(context.Background(), f.req)
	if e := asError(t, err); e.Kind != Unavailable || e.Code != "Throttling.User" || e.Status() != 503 {
		t.Errorf("throttled: %+v", e)
	}
}

func TestAlibabaRetryAfterHeader(t *testing.T) {
	f := newEmu(t, stsemu.Options{RetryAfter: 30 * time.Second}, AlibabaConfig{Transport: Transport{Timeout: 2 * time.Second}})
	f.emu.SetThrottle(5)
	start := time.Now()
	_, err := f.client.Exchange(context.Background(), f.req)
	e := asError(t, err)
	if e.RetryAfter != 30*time.Second {
		t.Errorf("RetryAfter = %v, want the server's 30s", e.RetryAfter)
	}
	// Waiting 30 s does not fit the 2 s budget: no retry, immediate answer.
	if n := f.emu.Requests(); n != 1 || time.Since(start) > time.Second {
		t.Errorf("%d requests in %v", n, time.Since(start))
	}
}

func TestAlibabaTimeout(t *testing.T) {
	f := newEmu(t, stsemu.Options{}, AlibabaConfig{Transport: Transport{Timeout: 300 * time.Millisecond}})
	f.emu.SetHang(time.Minute)
	start := time.Now()
	_, err := f.client.Exchange(context.Background(), f.req)
	e := asError(t, err)
	if e.Kind != Unavailable || e.Code != CodeTimeout || e.RetryAfter <= 0 {
		t.Errorf("got %+v", e)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v with a 300ms timeout", d)
	}
}

func TestAlibabaUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close()
	c, err := NewAlibaba(AlibabaConfig{Endpoint: addr, Transport: Transport{Timeout: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Exchange(context.Background(), Request{Token: "a.b.c", RoleARN: "r", ProviderARN: "p", SessionName: "s1"})
	if e := asError(t, err); e.Kind != Unavailable || e.Code != CodeUnreachable || e.HTTPStatus != 0 {
		t.Errorf("got %+v", e)
	}
}

// TestAlibabaRequestShape checks the wire format against a capturing server.
func TestAlibabaRequestShape(t *testing.T) {
	var (
		mu     sync.Mutex
		method string
		query  url.Values
		rawURL string
		form   url.Values
		hdr    http.Header
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		method, query, rawURL, hdr = r.Method, r.URL.Query(), r.URL.String(), r.Header.Clone()
		form, _ = url.ParseQuery(string(b))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"RequestId":"R1","Credentials":{"AccessKeyId":"STS.A","AccessKeySecret":"S","SecurityToken":"T","Expiration":"2030-01-01T01:00:00Z"}}`)
	}))
	defer srv.Close()
	fixed := time.Date(2030, 1, 1, 0, 0, 0, 0, time.FixedZone("X", 8*3600))
	c, err := NewAlibaba(AlibabaConfig{Endpoint: srv.URL, Transport: Transport{Now: func() time.Time { return fixed }}})
	if err != nil {
		t.Fatal(err)
	}
	tok := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
	cr, err := c.Exchange(context.Background(), Request{Token: tok, RoleARN: "acs:ram::1:role/r", ProviderARN: "acs:ram::1:oidc-provider/p",
		SessionName: "s1", Duration: 2 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if cr.Expiration != time.Date(2030, 1, 1, 1, 0, 0, 0, time.UTC) {
		t.Errorf("Expiration %v", cr.Expiration)
	}
	mu.Lock()
	defer mu.Unlock()
	if method != http.MethodPost {
		t.Errorf("method %s", method)
	}
	wantQ := url.Values{"Action": {"AssumeRoleWithOIDC"}, "Format": {"JSON"}, "Version": {"2015-04-01"}, "Timestamp": {"2029-12-31T16:00:00Z"}}
	if query.Encode() != wantQ.Encode() {
		t.Errorf("query %s, want %s", query.Encode(), wantQ.Encode())
	}
	if !regexp.MustCompile(`Timestamp=\d{4}-\d\d-\d\dT\d\d%3A\d\d%3A\d\dZ`).MatchString(rawURL) || strings.Contains(rawURL, "OIDCToken") || strings.Contains(rawURL, "eyJ") {
		t.Errorf("URL %s", rawURL)
	}
	wantF := url.Values{"RoleArn": {"acs:ram::1:role/r"}, "OIDCProviderArn": {"acs:ram::1:oidc-provider/p"}, "OIDCToken": {tok},
		"RoleSessionName": {"s1"}, "DurationSeconds": {"7200"}}
	if form.Encode() != wantF.Encode() {
		t.Errorf("form %s", form.Encode())
	}
	if ct := hdr.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		t.Errorf("Content-Type %q", ct)
	}
	if hdr.Get("Authorization") != "" {
		t.Error("an Authorization header was sent on an anonymous call")
	}
}

// echoToken is the caller's token in TestAlibabaErrorBodies.
const echoToken = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnLW9mLXRoZS1jYWxsZXI"

// TestAlibabaErrorBodies checks the other error encodings Darabonba accepts.
func TestAlibabaErrorBodies(t *testing.T) {
	cases := []struct {
		name, ctype, body string
		status            int
		kind              ErrorKind
		code, reqID       string
	}{
		{"lowercase json", "application/json", `{"requestId":"R2","code":"AuthenticationFail.OIDCToken.Expired","message":"This JsonWebToken is expired."}`,
			401, InvalidToken, "AuthenticationFail.OIDCToken.Expired", "R2"},
		{"xml", "text/xml;charset=utf-8", `<?xml version="1.0" encoding="UTF-8"?><Error><RequestId>R3</RequestId><HostId>sts.aliyuncs.com</HostId><Code>EntityNotExist.Role</Code><Message>The role not exists.</Message></Error>`,
			404, Misconfigured, "EntityNotExist.Role", "R3"},
		{"xml throttling", "text/xml", `<Error><RequestId>R4</RequestId><Code>Throttling.Api</Code><Message>slow down</Message></Error>`,
			400, Unavailable, "Throttling.Api", "R4"},
		{"unparseable 502", "text/html", `<html>bad gateway</html>`, 502, Unavailable, CodeBadResponse, ""},
		{"unparseable 400", "text/html", `oops`, 400, Misconfigured, CodeBadResponse, ""},
		{"unknown 4xx code", "application/json", `{"Code":"InvalidAction.NotFound","Message":"x"}`, 404, Misconfigured, "InvalidAction.NotFound", ""},
		{"missing parameter", "application/json", `{"Code":"MissingParameter.RoleArn","Message":"x"}`, 400, Misconfigured, "MissingParameter.RoleArn", ""},
		{"200 without credentials", "application/json", `{"RequestId":"R5"}`, 200, Unavailable, CodeBadResponse, "R5"},
		{"200 bad expiration", "application/json", `{"Credentials":{"AccessKeyId":"a","AccessKeySecret":"b","SecurityToken":"c","Expiration":"soon"}}`, 200, Unavailable, CodeBadResponse, ""},
		// The code and request ID reach the caller's error body and the
		// log: an STS quoting the caller's token in them does not.
		{"token echoed in code and request ID", "application/json",
			`{"Code":"InvalidParameter.` + echoToken + `","RequestId":"R6-` + echoToken + `","Message":"x"}`,
			400, Misconfigured, "InvalidParameter." + logsafe.Redacted, "R6-" + logsafe.Redacted},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", c.ctype)
				w.WriteHeader(c.status)
				_, _ = io.WriteString(w, c.body)
			}))
			defer srv.Close()
			cl, _ := NewAlibaba(AlibabaConfig{Endpoint: srv.URL, Transport: Transport{Timeout: 5 * time.Second}})
			_, err := cl.Exchange(context.Background(), Request{Token: echoToken, RoleARN: "r", ProviderARN: "p", SessionName: "s1"})
			e := asError(t, err)
			if e.Kind != c.kind || e.Code != c.code || e.RequestID != c.reqID || e.HTTPStatus != c.status {
				t.Errorf("got %+v", e)
			}
		})
	}
}

func TestAlibabaLocalRefusals(t *testing.T) {
	c, _ := NewAlibaba(AlibabaConfig{Endpoint: "http://127.0.0.1:1"})
	base := Request{Token: "a.b.c", RoleARN: "r", ProviderARN: "p", SessionName: "s1"}
	for name, mod := range map[string]func(*Request){
		"empty token":    func(r *Request) { r.Token = "" },
		"oversize token": func(r *Request) { r.Token = strings.Repeat("a", MaxTokenSize+1) },
	} {
		r := base
		mod(&r)
		if _, err := c.Exchange(context.Background(), r); asError(t, err).Kind != InvalidToken {
			t.Errorf("%s: %v", name, err)
		}
	}
	r := base
	r.RoleARN = ""
	if _, err := c.Exchange(context.Background(), r); asError(t, err).Kind != Misconfigured {
		t.Errorf("no role: %v", err)
	}
}

func TestAlibabaEndpoint(t *testing.T) {
	cases := []struct {
		cfg  AlibabaConfig
		want string
		bad  bool
	}{
		{AlibabaConfig{}, "https://sts.aliyuncs.com/", false},
		{AlibabaConfig{Region: "cn-hangzhou"}, "https://sts.cn-hangzhou.aliyuncs.com/", false},
		{AlibabaConfig{Region: "ap-southeast-1", VPC: true}, "https://sts-vpc.ap-southeast-1.aliyuncs.com/", false},
		{AlibabaConfig{Endpoint: "sts.cn-shanghai.aliyuncs.com", Region: "cn-hangzhou"}, "https://sts.cn-shanghai.aliyuncs.com/", false},
		{AlibabaConfig{Endpoint: "http://127.0.0.1:8080"}, "http://127.0.0.1:8080/", false},
		{AlibabaConfig{Endpoint: "http://localhost:8080/sts"}, "http://localhost:8080/sts", false},
		{AlibabaConfig{Endpoint: "http://[::1]:8080"}, "http://[::1]:8080/", false},
		{AlibabaConfig{Endpoint: "http://sts.aliyuncs.com"}, "", true},
		{AlibabaConfig{Endpoint: "ftp://sts.aliyuncs.com"}, "", true},
		{AlibabaConfig{Endpoint: "https://sts.aliyuncs.com/?x=1"}, "", true},
		{AlibabaConfig{Endpoint: "https://u:p@sts.aliyuncs.com"}, "", true},
	}
	for _, c := range cases {
		a, err := NewAlibaba(c.cfg)
		if c.bad {
			if err == nil {
				t.Errorf("%+v accepted", c.cfg)
			}
			continue
		}
		if err != nil || a.Endpoint() != c.want {
			t.Errorf("%+v → %v %v, want %s", c.cfg, a, err, c.want)
		}
	}
}
