package identity

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

func testIdentity(t testing.TB) *Identity {
	return &Identity{
		Provider: "aliyun",
		Subject:  "1234",
		Issuer:   "https://oauth.aliyun.com",
		Scopes:   []string{"openid", "aliuid", "profile"},
		Claims: decodeClaims(t, `{
			"sub": "1234", "iss": "https://oauth.aliyun.com",
			"aid": 1000000000000000, "uid": "2000000000000000", "type": "user",
			"login_name": "alice", "upn": "alice@corp.onaliyun.com",
			"name": "Alice\r\nX-Evil: 1", "groups": ["dev", "ops"],
			"address": {"country": "CN"}, "trap": "{file./etc/passwd}"
		}`),
	}
}

func mustHeaders(t testing.TB, specs []HeaderSpec, prefixes []string) *Headers {
	t.Helper()
	h, err := NewHeaders(specs, prefixes)
	if err != nil {
		t.Fatalf("NewHeaders: %v", err)
	}
	return h
}

func TestNewHeadersNames(t *testing.T) {
	h := mustHeaders(t, []HeaderSpec{
		{Name: "-X-Auth-Email"},
		{Name: "x-auth-name", Value: "{http.auth.user.login_name}"},
		{Name: "X-User", Value: "{http.auth.user.upn}"},
	}, nil)
	got := strings.Join(h.Names(), ",")
	want := "X-Auth-Subject,X-Auth-Issuer,X-Auth-Scopes,X-Auth-Account-Id,X-Auth-User-Id,X-Auth-User-Type,X-Auth-Login-Name,X-Auth-Upn,X-Auth-Name,X-Auth-Groups,X-Auth-Token-Binding,X-Auth-Assertion,X-User"
	if got != want {
		t.Errorf("Names() = %s\nwant      %s", got, want)
	}
}

func TestNewHeadersErrors(t *testing.T) {
	tests := []struct {
		specs    []HeaderSpec
		prefixes []string
		want     string
	}{
		{[]HeaderSpec{{Name: "X User", Value: "{http.auth.user.id}"}}, nil, `header "X User": character ' ' at position 2`},
		{[]HeaderSpec{{Name: "X-User:", Value: "x"}}, nil, `header "X-User:": character ':'`},
		{[]HeaderSpec{{Name: "", Value: "x"}}, nil, "empty header name"},
		{[]HeaderSpec{{Name: "-", Value: ""}}, nil, "empty header name"},
		{[]HeaderSpec{{Name: "X-User"}}, nil, "header X-User: needs a value"},
		{[]HeaderSpec{{Name: "-X-User"}}, nil, "header -X-User: X-User is not a default header"},
		{[]HeaderSpec{{Name: "-X-Auth-Email", Value: "x"}}, nil, "takes no value"},
		{[]HeaderSpec{{Name: "X-A", Value: "1"}, {Name: "x_a", Value: "2"}}, nil, "header x_a: configured twice"},
		{[]HeaderSpec{{Name: "Authorization", Value: "{http.auth.user.id}"}}, nil, "header Authorization: reserved"},
		{[]HeaderSpec{{Name: "cookie", Value: "x"}}, nil, "header cookie: reserved"},
		{nil, []string{"X-Auth-", "bad prefix"}, `strip prefix "bad prefix"`},
	}
	for _, tt := range tests {
		_, err := NewHeaders(tt.specs, tt.prefixes)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewHeaders(%v, %v) error = %v, want it to contain %q", tt.specs, tt.prefixes, err, tt.want)
		}
	}
}

func TestStrip(t *testing.T) {
	h := mustHeaders(t, []HeaderSpec{{Name: "X-User", Value: "{http.auth.user.upn}"}}, nil)
	if err := h.AddStripName("X-Cloud-Token"); err != nil {
		t.Fatal(err)
	}
	if err := h.AddStripName("bad name"); err == nil {
		t.Error("AddStripName accepted an invalid name")
	}
	hdr := http.Header{
		"X-Auth-Subject":       {"spoof"},
		"x-auth-subject":       {"spoof"}, // non-canonical keys put in the map directly
		"X_Auth_Subject":       {"spoof"},
		"X.Auth.Upn":           {"spoof"},
		"x.sts_access-key-id":  {"spoof"},
		"X-AUTH_SUBJECT":       {"spoof"},
		"X-Auth-":              {"spoof"},
		"X-Auth-Whatever":      {"spoof"},
		"X-Sts-Security-Token": {"spoof"},
		"x_sts_access_key_id":  {"spoof"},
		"X-User":               {"spoof"},
		"x_user":               {"spoof"},
		"X-Cloud-Token":        {"spoof"},
		"X_CLOUD_TOKEN":        {"spoof"},
		// survivors
		"X-Authx":                     {"keep"},
		"X-Auth":                      {"keep"},
		"X-Authorization-Foo":         {"keep"},
		"Authorization":               {"keep"},
		"X-Users":                     {"keep"},
		"X-User-Agent":                {"keep"},
		"Xx-Auth-Subject":             {"keep"},
		"X-Sts":                       {"keep"},
		"X-Cloud-Token-2":             {"keep"},
		strings.Repeat("X-Long-", 40): {"keep"},
	}
	h.Strip(hdr)
	var left []string
	for k, v := range hdr {
		if v[0] != "keep" {
			t.Errorf("header %q survived Strip", k)
		}
		left = append(left, k)
	}
	sort.Strings(left)
	if len(left) != 10 {
		t.Errorf("survivors = %q, want the 10 marked keep", left)
	}
}

func TestStripLongNames(t *testing.T) {
	long := "X-" + strings.Repeat("Very-Long-", 20) + "Name"
	h := mustHeaders(t, []HeaderSpec{{Name: long, Value: "{http.auth.user.id}"}}, []string{})
	hdr := http.Header{
		strings.ToLower(strings.ReplaceAll(long, "-", "_")): {"spoof"},
		long + "-Suffix":   {"keep"},
		long[:len(long)-1]: {"keep"},
	}
	h.Strip(hdr)
	if len(hdr) != 2 {
		t.Errorf("after Strip: %v", hdr)
	}
	for k, v := range hdr {
		if v[0] != "keep" {
			t.Errorf("%s survived", k)
		}
	}
}

func TestStripConfiguredPrefixes(t *testing.T) {
	h := mustHeaders(t, nil, []string{"X-Corp-"})
	hdr := http.Header{"X_Corp_Id": {"x"}, "X-Auth-Subject": {"x"}, "X-Auth-Custom": {"x"}}
	h.Strip(hdr)
	// X-Auth-Subject is a header the plugin sets: still stripped by name.
	// X-Auth-Custom is no longer under a strip prefix: kept.
	if len(hdr) != 1 || hdr.Get("X-Auth-Custom") == "" {
		t.Errorf("after Strip: %v", hdr)
	}
	h = mustHeaders(t, []HeaderSpec{{Name: "-X-Auth-Email"}}, []string{})
	hdr = http.Header{"X-Auth-Email": {"x"}, "X-Auth-Other": {"x"}}
	h.Strip(hdr)
	if len(hdr) != 1 || hdr.Get("X-Auth-Other") == "" {
		t.Errorf("a removed default must still be stripped; after Strip: %v", hdr)
	}
}

func TestStripDoesNotAllocate(t *testing.T) {
	h := mustHeaders(t, []HeaderSpec{{Name: "X-User", Value: "{http.auth.user.upn}"}}, nil)
	hdr := http.Header{
		"Accept": {"*/*"}, "User-Agent": {"curl"}, "Authorization": {"Bearer x"},
		"X-Forwarded-For": {"10.0.0.1"}, "x_custom_header": {"1"},
	}
	allocs := testing.AllocsPerRun(100, func() { h.Strip(hdr) })
	if allocs != 0 {
		t.Errorf("Strip allocated %v times when nothing matched", allocs)
	}
	if len(hdr) != 5 {
		t.Errorf("Strip removed headers: %v", hdr)
	}
}

func TestInjectDefaults(t *testing.T) {
	h := mustHeaders(t, nil, nil)
	id := testIdentity(t)
	hdr := http.Header{"X-Auth-Email": {"stale"}}
	h.Inject(hdr, id, nil)
	want := map[string]string{
		"X-Auth-Subject":    "1234",
		"X-Auth-Issuer":     "https://oauth.aliyun.com",
		"X-Auth-Scopes":     "openid aliuid profile",
		"X-Auth-Account-Id": "1000000000000000",
		"X-Auth-User-Id":    "2000000000000000",
		"X-Auth-User-Type":  "user",
		"X-Auth-Login-Name": "alice",
		"X-Auth-Upn":        "alice@corp.onaliyun.com",
		"X-Auth-Groups":     "dev ops",
	}
	for k, v := range want {
		if got := hdr[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if len(hdr) != len(want) {
		t.Errorf("got headers %v, want exactly %d (no X-Auth-Email: the claim is absent; no X-Auth-Name: it holds control characters)", hdr, len(want))
	}

	// Without identity no header survives.
	h.Inject(hdr, nil, nil)
	if len(hdr) != 0 {
		t.Errorf("Inject(nil) left %v", hdr)
	}
}

func TestInjectTemplates(t *testing.T) {
	h := mustHeaders(t, []HeaderSpec{
		{Name: "-X-Auth-Scopes"},
		{Name: "X-Auth-Name", Value: "{http.auth.user.login_name}"},
		{Name: "X-User", Value: "{http.auth.user.upn}"},
		{Name: "X-Who", Value: "{http.auth.user.id}@{http.auth.user.provider} ({http.auth.user.address.country})"},
		{Name: "X-Groups", Value: "{http.auth.user.groups}"},
		{Name: "X-Missing", Value: "{http.auth.user.email}"},
		{Name: "X-Trap", Value: "{http.auth.user.trap}"},
		{Name: "X-Unknown", Value: "{no.such.placeholder}"},
	}, nil)
	id := testIdentity(t)
	repl := caddy.NewReplacer()
	Provide(repl, id)
	hdr := http.Header{}
	h.Inject(hdr, id, repl)
	want := map[string]string{
		"X-Auth-Name": "alice",
		"X-User":      "alice@corp.onaliyun.com",
		"X-Who":       "1234@aliyun (CN)",
		"X-Groups":    "dev ops",
		// Claim data is a value, never a template: no file is read.
		"X-Trap": "{file./etc/passwd}",
		// Unknown placeholders stay visible, so a typo can be seen upstream.
		"X-Unknown": "{no.such.placeholder}",
	}
	for k, v := range want {
		if got := hdr.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if _, ok := hdr["X-Auth-Scopes"]; ok {
		t.Error("removed default X-Auth-Scopes was set")
	}
	if _, ok := hdr["X-Missing"]; ok {
		t.Error("X-Missing set for an absent claim")
	}
}

// TestStripAndInjectOverHTTP sends spoofed identity headers (case and
// underscore variants, written raw on the wire) through a proxy that strips
// and injects, and checks what the upstream really receives.
func TestStripAndInjectOverHTTP(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var lines []string
		for k, v := range r.Header {
			lines = append(lines, k+": "+strings.Join(v, ","))
		}
		sort.Strings(lines)
		fmt.Fprint(w, strings.Join(lines, "\n"))
	}))
	defer upstream.Close()
	target, _ := url.Parse(upstream.URL)

	h := mustHeaders(t, []HeaderSpec{{Name: "X-User", Value: "{http.auth.user.upn}"}}, nil)
	id := testIdentity(t)
	proxy := httputil.NewSingleHostReverseProxy(target)
	edge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.Strip(r.Header)
		repl := caddy.NewReplacer()
		if r.URL.Path != "/anonymous" {
			Provide(repl, id)
			h.Inject(r.Header, id, repl)
		}
		proxy.ServeHTTP(w, r)
	}))
	defer edge.Close()

	for _, path := range []string{"/protected", "/anonymous"} {
		conn, err := net.Dial("tcp", edge.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: app.example\r\n"+
			"x-auth-subject: evil\r\nX_Auth_Subject: evil\r\nX-AUTH_SUBJECT: evil\r\n"+
			"X-Auth-Email: evil@example.com\r\nx_user: evil\r\nX-Sts-Security-Token: evil\r\n"+
			"X-Authx: kept\r\nConnection: close\r\n\r\n", path)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		conn.Close()
		got := string(body)
		if strings.Contains(got, "evil") {
			t.Errorf("%s: spoofed header reached upstream:\n%s", path, got)
		}
		if !strings.Contains(got, "X-Authx: kept") {
			t.Errorf("%s: unrelated header lost:\n%s", path, got)
		}
		wantUser := path == "/protected"
		if strings.Contains(got, "X-User: alice@corp.onaliyun.com") != wantUser ||
			strings.Contains(got, "X-Auth-Subject: 1234") != wantUser {
			t.Errorf("%s: injected headers wrong:\n%s", path, got)
		}
	}
}

func BenchmarkStripAndInject(b *testing.B) {
	h := mustHeaders(b, []HeaderSpec{{Name: "X-User", Value: "{http.auth.user.upn}"}}, nil)
	id := testIdentity(b)
	base := http.Header{
		"Accept": {"*/*"}, "User-Agent": {"bench"}, "Authorization": {"Bearer x"},
		"X-Forwarded-For": {"10.0.0.1"}, "X-Auth-Subject": {"spoof"},
	}
	b.ReportAllocs()
	for b.Loop() {
		hdr := make(http.Header, 16)
		for k, v := range base {
			hdr[k] = v
		}
		repl := caddy.NewReplacer()
		h.Strip(hdr)
		Provide(repl, id)
		h.Inject(hdr, id, repl)
	}
}

// TestInjectGroups: X-Auth-Groups joins the groups array by one space (a
// name with a space is joined the same way), leaves out elements that hold
// control characters, and is absent for an empty array or one holding an
// object.
func TestInjectGroups(t *testing.T) {
	h := mustHeaders(t, nil, nil)
	for js, want := range map[string]string{
		`{"sub":"s","groups":["admins","dev"]}`:              "admins dev",
		`{"sub":"s","groups":["Domain Admins","dev"]}`:       "Domain Admins dev",
		`{"sub":"s","groups":"admins"}`:                      "admins",
		`{"sub":"s","groups":["admins",7,true,null,""]}`:     "admins 7 true",
		`{"sub":"s","groups":["admins","ops\r\nX-Evil: 1"]}`: "admins",
		`{"sub":"s","groups":[]}`:                            "",
		`{"sub":"s","groups":["admins",{"name":"root"}]}`:    "",
		`{"sub":"s"}`: "",
	} {
		hdr := http.Header{"X-Auth-Groups": {"forged"}}
		h.Inject(hdr, &Identity{Subject: "s", Claims: decodeClaims(t, js)}, nil)
		if got := hdr.Get("X-Auth-Groups"); got != want || len(hdr["X-Auth-Groups"]) > 1 {
			t.Errorf("%s: X-Auth-Groups = %q, want %q", js, hdr["X-Auth-Groups"], want)
		}
	}
	// header -X-Auth-Groups: never set, and a client's copy is still stripped.
	h = mustHeaders(t, []HeaderSpec{{Name: "-X-Auth-Groups"}}, []string{})
	hdr := http.Header{"X_Auth_Groups": {"forged"}, "x-auth-groups": {"forged"}}
	h.Strip(hdr)
	h.Inject(hdr, &Identity{Subject: "s", Claims: decodeClaims(t, `{"groups":["dev"]}`)}, nil)
	if len(hdr) != 1 || hdr.Get("X-Auth-Subject") != "s" {
		t.Errorf("header -X-Auth-Groups with no strip prefixes: %v", hdr)
	}
}

// TestInjectTokenBinding: the binding method reaches the upstream as
// X-Auth-Token-Binding and a client's own copy never survives.
func TestInjectTokenBinding(t *testing.T) {
	h := mustHeaders(t, nil, nil)
	hdr := http.Header{"X-Auth-Token-Binding": {"mtls"}}
	h.Strip(hdr)
	h.Inject(hdr, &Identity{Subject: "a"}, nil)
	if v := hdr.Get("X-Auth-Token-Binding"); v != "" {
		t.Fatalf("unbound token: X-Auth-Token-Binding = %q", v)
	}
	h.Inject(hdr, &Identity{Subject: "a", Binding: &TokenBinding{Method: BindingDPoP, Thumbprint: "x"}}, nil)
	if v := hdr.Get("X-Auth-Token-Binding"); v != "dpop" {
		t.Fatalf("X-Auth-Token-Binding = %q, want dpop", v)
	}
}
