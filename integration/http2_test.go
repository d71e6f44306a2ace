package integration

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// h2Answer is what an HTTP/2 stream ended with: a response, or a reset of
// the stream or the connection (refused as malformed).
type h2Answer struct {
	status int
	body   []byte
	reset  string // RST_STREAM or GOAWAY code; "" when a response came
}

// h2Field is one header field exactly as sent, pseudo-headers included.
type h2Field struct{ name, value string }

// h2Do sends one request as raw HTTP/2 frames over TLS (ALPN h2) to addr, so
// that fields no HTTP/2 client library would send (connection-specific
// fields, duplicate or misplaced pseudo-headers, upper-case names) reach the
// server as written.
func h2Do(t testing.TB, addr string, roots *x509.CertPool, fields []h2Field) h2Answer {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, NextProtos: []string{"h2"}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("TLS to %s: %v", addr, err)
	}
	defer conn.Close()
	if p := conn.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("ALPN gave %q, want h2", p)
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	fr.MaxHeaderListSize = 1 << 20
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range fields {
		if err := enc.WriteField(hpack.HeaderField{Name: f.name, Value: f.value}); err != nil {
			t.Fatal(err)
		}
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	var a h2Answer
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			if errors.Is(err, io.EOF) && a.status == 0 {
				return h2Answer{reset: "EOF"}
			}
			t.Fatalf("reading frames: %v", err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				_ = fr.WritePing(true, f.Data)
			}
		case *http2.GoAwayFrame:
			if a.status == 0 {
				return h2Answer{reset: "GOAWAY " + f.ErrCode.String()}
			}
		case *http2.RSTStreamFrame:
			if f.StreamID == 1 {
				return h2Answer{reset: "RST_STREAM " + f.ErrCode.String()}
			}
		case *http2.MetaHeadersFrame:
			if f.StreamID != 1 {
				continue
			}
			if a.status == 0 {
				a.status, _ = strconv.Atoi(f.PseudoValue("status"))
			}
			if f.StreamEnded() {
				return a
			}
		case *http2.DataFrame:
			if f.StreamID != 1 {
				continue
			}
			a.body = append(a.body, f.Data()...)
			if n := len(f.Data()); n > 0 {
				_ = fr.WriteWindowUpdate(0, uint32(n))
				_ = fr.WriteWindowUpdate(1, uint32(n))
			}
			if f.StreamEnded() {
				return a
			}
		}
	}
}

// TestHTTP2CannotForgeOrRemoveIdentityHeaders sends requests over real
// HTTP/2 (TLS on loopback) with client-supplied identity fields, duplicates,
// `te: trailers`, connection-specific fields and pseudo-header tricks. Each
// request is either refused as malformed (400 or a reset) or reaches the
// upstream with exactly the injected identity: never a forged value, never
// an injected header removed.
func TestHTTP2CannotForgeOrRemoveIdentityHeaders(t *testing.T) {
	w := newSTSWorld(t, demoidp.Options{})
	site, roots := w.tlsSite("\t\tpublic /public/*\n\t\theader X-Login {http.auth.user.upn}\n\t\tsts alibaba")
	w.start(w.globals(w.providerBlock("demo")+"\n"+w.stsBlock()) + site)
	addr := fmt.Sprintf("127.0.0.1:%d", w.port)
	alice := w.aliceToken()
	base := func(path string, bearer bool) []h2Field {
		f := []h2Field{{":method", "GET"}, {":scheme", "https"}, {":authority", addr}, {":path", path}}
		if bearer {
			f = append(f, h2Field{"authorization", "Bearer " + alice})
		}
		return f
	}
	waitFor(t, "the provider's keys", 10*time.Second, func() bool {
		return h2Do(t, addr, roots, base("/orders", true)).status == http.StatusOK
	})
	w.baseline = len(w.emu.Issued())

	forged := []h2Field{
		{"x-auth-subject", "evil"}, {"x-auth-subject", "evil-2"}, {"x_auth_subject", "evil"},
		{"x-sts-access-key-id", "evil"}, {"x-sts-access-key-id", "evil-2"}, {"x-sts-security-token", "evil"},
		{"x-login", "evil"}, {"x.auth.upn", "evil"}, {"x-auth-new-thing", "evil"},
	}
	type tc struct {
		name       string
		fields     []h2Field
		mustAnswer bool // a well-formed request: it must reach the upstream
	}
	cases := []tc{
		{"forged and duplicate identity fields", forged, true},
		{"te: trailers", append([]h2Field{{"te", "trailers"}}, forged...), true},
		{"connection naming identity headers", []h2Field{{"connection", "x-auth-subject, x-sts-access-key-id, x-login"}}, false},
		{"keep-alive and proxy-connection", []h2Field{{"proxy-connection", "x-auth-subject"}, {"keep-alive", "x-auth-subject"}}, false},
		{"te naming an identity header", []h2Field{{"te", "trailers, x-auth-subject"}}, false},
		{"upgrade", []h2Field{{"upgrade", "websocket"}, {"connection", "upgrade, x-auth-subject"}}, false},
		{"upper-case field names", []h2Field{{"X-Auth-Subject", "evil"}, {"Connection", "X-Auth-Subject"}}, false},
		{"pseudo-header named like an identity header", []h2Field{{":x-auth-subject", "evil"}}, false},
	}
	var keyID string
	for _, c := range cases {
		for _, path := range []string{"/orders", "/public/x"} {
			protected := path == "/orders"
			a := h2Do(t, addr, roots, append(base(path, protected), c.fields...))
			what := fmt.Sprintf("%s on %s", c.name, path)
			t.Logf("%s: status %d %s", what, a.status, a.reset)
			if a.status != http.StatusOK {
				if c.mustAnswer || a.status == 0 && a.reset == "" || a.status != 0 && a.status != http.StatusBadRequest {
					t.Errorf("%s: status %d %s, want 200 from the upstream or a refusal as malformed", what, a.status, a.reset)
				}
				continue
			}
			got := h2Echo(t, what, a.body)
			for name, values := range got.Headers {
				for _, v := range values {
					if strings.HasPrefix(v, "evil") {
						t.Errorf("%s: forged %s: %s reached the upstream", what, name, v)
					}
				}
			}
			if !protected {
				continue
			}
			for name, want := range map[string]string{"X-Auth-Subject": "2000000000000002", "X-Login": "alice@example.onaliyun.com", "X-Auth-Upn": "alice@example.onaliyun.com"} {
				if got.header(name) != want {
					t.Errorf("%s: upstream %s = %q, want %q", what, name, got.header(name), want)
				}
			}
			if len(got.Headers["X-Auth-Subject"]) != 1 || len(got.Headers["X-Sts-Access-Key-Id"]) != 1 {
				t.Errorf("%s: identity headers not single-valued: %q %q", what, got.Headers["X-Auth-Subject"], got.Headers["X-Sts-Access-Key-Id"])
			}
			if keyID == "" {
				keyID = got.header("X-Sts-Access-Key-Id")
			}
			if keyID == "" || got.header("X-Sts-Access-Key-Id") != keyID || got.header("X-Sts-Security-Token") == "" {
				t.Errorf("%s: STS headers %q/%q, want the issued credentials", what, got.header("X-Sts-Access-Key-Id"), keyID)
			}
		}
	}

	// Pseudo-header tricks on the path the rules see: a duplicate :path,
	// or a regular field before a pseudo-header, is malformed; a request that
	// gets through is judged on the one :path it carries.
	for name, fields := range map[string][]h2Field{
		"duplicate :path":      {{":method", "GET"}, {":scheme", "https"}, {":authority", addr}, {":path", "/public/x"}, {":path", "/orders"}},
		"pseudo after regular": {{":method", "GET"}, {":scheme", "https"}, {":authority", addr}, {"x-auth-subject", "evil"}, {":path", "/orders"}},
		"no :path":             {{":method", "GET"}, {":scheme", "https"}, {":authority", addr}, {"x-auth-subject", "evil"}},
	} {
		a := h2Do(t, addr, roots, fields)
		t.Logf("%s: status %d %s", name, a.status, a.reset)
		if a.status != http.StatusBadRequest && a.reset == "" {
			t.Errorf("%s: status %d, want a refusal as malformed (400 or reset)", name, a.status)
		}
	}
}

// h2Echo decodes a whoami answer.
func h2Echo(t *testing.T, what string, body []byte) echo {
	t.Helper()
	var got echo
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("%s: upstream answer is not whoami JSON: %v: %s", what, err, body)
	}
	return got
}

// TestDuplicateAuthorizationIsRefused: a request with two Authorization
// fields is refused (400 invalid_request, RFC 6750 §3.1) over HTTP/1.1 and
// HTTP/2, so the gateway cannot authorize one token while the upstream, which
// receives the original Authorization, reads the other.
func TestDuplicateAuthorizationIsRefused(t *testing.T) {
	e := newEnv(t, demoidp.Options{})
	site, roots := e.tlsSite("\t\tscope /dns/* /acs/alidns")
	e.start(e.globals(e.providerBlock("demo")) + site)
	addr := fmt.Sprintf("127.0.0.1:%d", e.port)
	alice := e.aliceToken() // holds /acs/alidns
	bob, err := e.idp.MintFor("root", []string{"openid", "profile"})
	if err != nil {
		t.Fatal(err)
	}
	req := func(auth ...string) h2Answer {
		f := []h2Field{{":method", "GET"}, {":scheme", "https"}, {":authority", addr}, {":path", "/dns/records"}}
		for _, a := range auth {
			f = append(f, h2Field{"authorization", a})
		}
		return h2Do(t, addr, roots, f)
	}
	waitFor(t, "the provider's keys", 10*time.Second, func() bool { return req("Bearer "+alice).status == http.StatusOK })

	for _, auth := range [][]string{
		{"Bearer " + alice, "Bearer " + bob},
		{"Bearer " + alice, "Bearer " + alice},
		{"Bearer " + alice, "Basic YTpi"},
		{"Bearer " + alice, ""},
	} {
		a := req(auth...)
		if a.status != http.StatusBadRequest || !strings.Contains(string(a.body), `"invalid_request"`) {
			t.Errorf("HTTP/2 with %d Authorization fields: status %d %s %s, want 400 invalid_request", len(auth), a.status, a.reset, a.body)
		}
	}

	// HTTP/1.1, with the second field spelled in lower case.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	tr.ForceAttemptHTTP2 = false
	tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	t.Cleanup(tr.CloseIdleConnections)
	r, _ := http.NewRequest(http.MethodGet, "https://"+addr+"/dns/records", nil)
	r.Header["Authorization"] = []string{"Bearer " + alice}
	r.Header["authorization"] = []string{"Bearer " + bob}
	resp, err := (&http.Client{Transport: tr}).Do(r)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 1 {
		t.Fatalf("want an HTTP/1.1 request, got %s", resp.Proto)
	}
	assertError(t, resp, body, http.StatusBadRequest, "invalid_request")
	if got := resp.Header.Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_request"`) {
		t.Errorf("WWW-Authenticate = %q", got)
	}
}
