package sts

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const awsOK = `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>user-123</SubjectFromWebIdentityToken>
    <Audience>client-a</Audience>
    <Provider>https://idp.example.com</Provider>
    <SourceIdentity>alice</SourceIdentity>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::111122223333:assumed-role/gw-role/gw-alice</Arn>
      <AssumedRoleId>AROAFAKEFAKE:gw-alice</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIAFAKEFAKE</AccessKeyId><SecretAccessKey>SECRETFAKE</SecretAccessKey>
      <SessionToken>SESSIONFAKE</SessionToken><Expiration>2030-01-01T01:00:00.123Z</Expiration>
    </Credentials>
    <PackedPolicySize>6</PackedPolicySize>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000001</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>`

// awsErr is an error answer with code whose message quotes token.
func awsErr(code, token string) string {
	return fmt.Sprintf(`<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>%s</Code><Message>msg for %s</Message></Error><RequestId>rid-%s</RequestId></ErrorResponse>`, code, token, code)
}

// tokenFor is the token that makes fakeAWS answer with code.
func tokenFor(code string) string { return "token-for-" + code }

// fakeAWS answers the §5 shapes. The token decides: "ok" succeeds,
// tokenFor(code) is that error code (status 400, or 403 for AccessDenied,
// 503 for ServiceUnavailable), its message quoting the token.
func fakeAWS(t *testing.T, hits *atomic.Int32) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		b, _ := io.ReadAll(r.Body)
		f, _ := url.ParseQuery(string(b))
		if r.URL.RawQuery != "" || f.Get("Action") != "AssumeRoleWithWebIdentity" || f.Get("Version") != "2011-06-15" ||
			f.Get("RoleArn") == "" || f.Get("RoleSessionName") == "" || f.Get("DurationSeconds") != "3600" {
			w.WriteHeader(400)
			_, _ = io.WriteString(w, awsErr("ValidationError", f.Get("WebIdentityToken")))
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		tok := f.Get("WebIdentityToken")
		switch code := strings.TrimPrefix(tok, tokenFor("")); code {
		case "ok":
			_, _ = io.WriteString(w, awsOK)
		case "AccessDenied":
			w.WriteHeader(403)
			_, _ = io.WriteString(w, awsErr(code, tok))
		case "ServiceUnavailable":
			w.WriteHeader(503)
			_, _ = io.WriteString(w, awsErr(code, tok))
		default:
			w.WriteHeader(400)
			_, _ = io.WriteString(w, awsErr(code, tok))
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestAWS(t *testing.T) {
	var hits atomic.Int32
	srv := fakeAWS(t, &hits)
	c, err := NewAWS(AWSConfig{Endpoint: srv.URL, Transport: Transport{Timeout: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	req := Request{Token: "ok", RoleARN: "arn:aws:iam::111122223333:role/gw-role", SessionName: "gw-alice"}
	cr, err := c.Exchange(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	want := Credentials{AccessKeyID: "ASIAFAKEFAKE", AccessKeySecret: "SECRETFAKE", SecurityToken: "SESSIONFAKE",
		Expiration:     time.Date(2030, 1, 1, 1, 0, 0, 123e6, time.UTC),
		AssumedRoleARN: "arn:aws:sts::111122223333:assumed-role/gw-role/gw-alice", AssumedRoleID: "AROAFAKEFAKE:gw-alice",
		RequestID: "00000000-0000-0000-0000-000000000001", Subject: "user-123", Issuer: "https://idp.example.com", SourceIdentity: "alice"}
	if *cr != want {
		t.Errorf("got  %#v\nwant %#v", *cr, want)
	}

	cases := []struct {
		code     string
		kind     ErrorKind
		attempts int32
	}{
		{"InvalidIdentityToken", InvalidToken, 1},
		{"ExpiredTokenException", InvalidToken, 1},
		{"IDPRejectedClaim", InvalidToken, 1},
		{"AccessDenied", Forbidden, 1},
		{"MalformedPolicyDocument", Misconfigured, 1},
		{"PackedPolicyTooLarge", Misconfigured, 1},
		{"RegionDisabledException", Misconfigured, 1},
		{"IDPCommunicationError", Unavailable, 3},
		{"Throttling", Unavailable, 3},
		{"ServiceUnavailable", Unavailable, 3},
	}
	for _, tc := range cases {
		hits.Store(0)
		r := req
		r.Token = tokenFor(tc.code)
		_, err := c.Exchange(context.Background(), r)
		e := asError(t, err)
		// The fake echoes the token in its message: it must come back
		// redacted.
		if e.Kind != tc.kind || e.Code != tc.code || e.RequestID != "rid-"+tc.code || e.Message != "msg for "+redacted {
			t.Errorf("%s: got %+v", tc.code, e)
		}
		if hits.Load() != tc.attempts {
			t.Errorf("%s: %d attempts, want %d", tc.code, hits.Load(), tc.attempts)
		}
	}
	// The fake refuses a request without a session name as ValidationError.
	r := req
	r.Duration = 2 * time.Hour
	if _, err := c.Exchange(context.Background(), r); asError(t, err).Kind != Misconfigured || asError(t, err).Code != "ValidationError" {
		t.Errorf("ValidationError: %v", err)
	}
}

func TestAWSEndpoint(t *testing.T) {
	for _, c := range []struct {
		cfg  AWSConfig
		want string
	}{
		{AWSConfig{}, "https://sts.amazonaws.com/"},
		{AWSConfig{Region: "eu-west-1"}, "https://sts.eu-west-1.amazonaws.com/"},
		{AWSConfig{Endpoint: "https://sts.example.com"}, "https://sts.example.com/"},
	} {
		a, err := NewAWS(c.cfg)
		if err != nil || a.Endpoint() != c.want {
			t.Errorf("%+v → %v, want %s", c.cfg, err, c.want)
		}
	}
	if _, err := NewAWS(AWSConfig{Endpoint: "http://sts.example.com"}); err == nil || !strings.Contains(err.Error(), "https") {
		t.Errorf("plain http to a remote host: %v", err)
	}
}
