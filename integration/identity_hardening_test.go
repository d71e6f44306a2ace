package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// rawAnswer is one response read off a raw connection.
type rawAnswer struct {
	status int
	header http.Header
	body   []byte
}

// rawRequests writes each request head (lines joined by CRLF, without the
// final blank line) on ONE TCP connection to Caddy, reading each answer before
// sending the next, so keep-alive is exercised as written. It fails the test
// when the connection closes before every answer was read.
func (e *env) rawRequests(heads ...string) []rawAnswer {
	e.t.Helper()
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", e.port), 5*time.Second)
	if err != nil {
		e.t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	var out []rawAnswer
	for i, head := range heads {
		if _, err := io.WriteString(conn, head+"\r\n\r\n"); err != nil {
			e.t.Fatalf("request %d: writing: %v", i+1, err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			e.t.Fatalf("request %d: reading the answer: %v", i+1, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			e.t.Fatalf("request %d: reading the body: %v", i+1, err)
		}
		out = append(out, rawAnswer{status: resp.StatusCode, header: resp.Header, body: body})
	}
	return out
}

// connectionSite is an STS route (so X-Sts-* headers are injected too) with a
// templated header, a public prefix, and a proxy that reports, as
// X-Seen-Connection, the Connection field as it stood when reverse_proxy read
// it.
func (w *stsWorld) connectionSite() string {
	return w.globals(w.providerBlock("demo")+"\n"+w.stsBlock()) + fmt.Sprintf(`http://127.0.0.1:%d {
	edgeauth demo {
		public /public/*
		header X-Login {http.auth.user.upn}
		sts alibaba
	}
	reverse_proxy %s {
		header_up X-Seen-Connection {http.request.header.Connection}
		header_up X-Seen-Proxy-Connection {http.request.header.Proxy-Connection}
	}
}
`, w.port, w.upstream)
}

// TestFinding4ConnectionHeaderCannotDropInjected: a caller that names the
// identity headers in Connection (or Proxy-Connection), in any spelling,
// over HTTP/1.1 or HTTP/1.0 keep-alive, still gets the injected values to the
// upstream, and on a public route the field the proxy acts on names none of
// them.
func TestFinding4ConnectionHeaderCannotDropInjected(t *testing.T) {
	w := newSTSWorld(t, demoidp.Options{})
	w.start(w.connectionSite())
	w.waitReady()
	alice := w.aliceToken()
	host := fmt.Sprintf("Host: 127.0.0.1:%d", w.port)
	auth := "Authorization: Bearer " + alice

	variants := map[string][]string{
		"the issue's request":   {"Connection: X-Auth-Subject, X-Sts-Access-Key-Id"},
		"several lines":         {"Connection: keep-alive", "Connection: x-auth-subject", "connection: X_STS_ACCESS_KEY_ID, X-Login"},
		"spaces and tabs":       {"Connection: ,\tX-Auth-Subject\t, ,X-Sts-Access-Key-Id ,  X-Login  , keep-alive"},
		"case":                  {"CONNECTION: X-AUTH-SUBJECT,X-STS-ACCESS-KEY-ID,x-login,X-AUTH-UPN"},
		"underscores and dots":  {"Connection: x_auth_subject, X.Sts.Access.Key.Id, X_Login"},
		"Proxy-Connection":      {"Proxy-Connection: X-Auth-Subject, X-Sts-Access-Key-Id", "Connection: keep-alive"},
		"every injected header": {"Connection: X-Auth-Subject, X-Auth-Issuer, X-Auth-Scopes, X-Auth-Account-Id, X-Auth-User-Id, X-Auth-User-Type, X-Auth-Upn, X-Auth-Name, X-Auth-Email, X-Sts-Access-Key-Id, X-Sts-Access-Key-Secret, X-Sts-Security-Token, X-Sts-Expiration, X-Login"},
	}
	var keyID string
	check := func(what string, a rawAnswer) {
		t.Helper()
		got := w.upstreamSaw(&http.Response{StatusCode: a.status}, a.body)
		want := map[string]string{
			"X-Auth-Subject": "2000000000000002", "X-Auth-Upn": "alice@example.onaliyun.com",
			"X-Auth-Issuer": w.idp.Issuer(), "X-Auth-User-Type": "user", "X-Login": "alice@example.onaliyun.com",
		}
		for name, v := range want {
			if got.header(name) != v {
				t.Errorf("%s: upstream %s = %q, want %q", what, name, got.header(name), v)
			}
		}
		for _, name := range []string{"X-Sts-Access-Key-Id", "X-Sts-Access-Key-Secret", "X-Sts-Security-Token", "X-Sts-Expiration"} {
			if got.header(name) == "" {
				t.Errorf("%s: upstream got no %s", what, name)
			}
		}
		if keyID == "" {
			keyID = got.header("X-Sts-Access-Key-Id")
		} else if got.header("X-Sts-Access-Key-Id") != keyID {
			t.Errorf("%s: X-Sts-Access-Key-Id = %q, want the cached %q", what, got.header("X-Sts-Access-Key-Id"), keyID)
		}
		for _, seen := range []string{got.header("X-Seen-Connection"), got.header("X-Seen-Proxy-Connection")} {
			if l := strings.ToLower(seen); strings.Contains(l, "auth") || strings.Contains(l, "sts") || strings.Contains(l, "login") {
				t.Errorf("%s: the proxy read Connection %q", what, seen)
			}
		}
	}
	for name, lines := range variants {
		head := strings.Join(append([]string{"GET /orders HTTP/1.1", host, auth}, lines...), "\r\n")
		check(name+" (HTTP/1.1)", w.rawRequests(head)[0])
	}

	// HTTP/1.0 keep-alive: the identity headers named next to keep-alive.
	// (The protected answer is long enough that the upstream chunks it, so
	// Caddy closes an HTTP/1.0 connection after it; keep-alive itself is
	// shown on the public route below.)
	head10 := strings.Join([]string{"GET /orders HTTP/1.0", host, auth, "Connection: keep-alive, X-Auth-Subject, X-Sts-Access-Key-Id"}, "\r\n")
	for i := 1; i <= 2; i++ {
		check(fmt.Sprintf("HTTP/1.0 keep-alive request %d", i), w.rawRequests(head10)[0])
	}
	public10 := strings.Join([]string{"GET /public/x HTTP/1.0", host, "Connection: keep-alive, X-Auth-Subject, X-Sts-Access-Key-Id"}, "\r\n")
	answers := w.rawRequests(public10, public10) // one connection
	for i, a := range answers {
		if !strings.EqualFold(a.header.Get("Connection"), "keep-alive") {
			t.Errorf("HTTP/1.0 public request %d: keep-alive was not kept: Connection %q", i+1, a.header.Get("Connection"))
		}
		got := w.upstreamSaw(&http.Response{StatusCode: a.status}, a.body)
		if seen := got.header("X-Seen-Connection"); !strings.EqualFold(seen, "keep-alive") {
			t.Errorf("HTTP/1.0 public request %d: the proxy read Connection %q, want keep-alive", i+1, seen)
		}
	}

	// A public route: the proxy acts on a Connection field that keeps only
	// connection options; the caller's own hop-by-hop header (X-Custom) is
	// dropped by the gateway itself, as the hop it was addressed to.
	a := w.rawRequests(strings.Join([]string{"GET /public/x HTTP/1.1", host, "X-Custom: hop", "Connection: keep-alive, X-Auth-Subject, X-Custom"}, "\r\n"))[0]
	got := w.upstreamSaw(&http.Response{StatusCode: a.status}, a.body)
	if seen := got.header("X-Seen-Connection"); !strings.EqualFold(seen, "keep-alive") {
		t.Errorf("public route: the proxy read Connection %q, want keep-alive only", seen)
	}
	if got.header("X-Custom") != "" {
		t.Error("public route: the caller's hop-by-hop X-Custom reached the upstream")
	}
	if n := len(w.issued()); n != 1 {
		t.Errorf("%d exchanges, want 1 (one identity)", n)
	}
}

// TestFinding5ClaimRulesCompareRawValues: claim values that only look like
// the rule's value after sanitizing are refused by `claim … type account`;
// the exact value passes, and the header shows it.
func TestFinding5ClaimRulesCompareRawValues(t *testing.T) {
	e, _ := startBearer(t, demoidp.Options{})
	for _, v := range []string{
		"acc\u0000ount", "acc\tount", "account\r\n", "account ", " account", "acc\u007fount",
		"acc\u0085ount", "\u0430ccount", "acc\u200bount", "ａｃｃｏｕｎｔ", "Account",
	} {
		tok := e.mint(map[string]any{"sub": "lookalike", "type": v})
		resp, body := e.get("/billing/invoices", tok)
		assertError(t, resp, body, http.StatusForbidden, "access_denied")
		// As an array element too.
		tok = e.mint(map[string]any{"sub": "lookalike", "type": []any{"user", v}})
		resp, body = e.get("/billing/invoices", tok)
		assertError(t, resp, body, http.StatusForbidden, "access_denied")
	}
	got := e.upstreamSaw(e.get("/billing/invoices", e.mint(map[string]any{"sub": "owner", "type": "account"})))
	if got.header("X-Auth-User-Type") != "account" {
		t.Errorf("X-Auth-User-Type = %q", got.header("X-Auth-User-Type"))
	}
}

// TestFinding5RoleFromClaimComparesRawValues: role_from_claim picks a role
// only for the exact claim value; a look-alike gets no role (403, no
// exchange), the exact value gets its role.
func TestFinding5RoleFromClaimComparesRawValues(t *testing.T) {
	w := newSTSWorld(t, demoidp.Options{})
	w.startSTS(fmt.Sprintf(`		sts alibaba {
			role_from_claim type account %s
		}`, w.adminARN))
	for _, v := range []string{"acc\u0000ount", "acc\tount", "account\r\n", "account ", "\u0430ccount", "acc\u200bount"} {
		tok, err := w.idp.MintFor("root", []string{"openid", "profile", "aliuid"}, demoidp.WithClaims(map[string]any{"type": v}))
		if err != nil {
			t.Fatal(err)
		}
		resp, body := w.get("/", tok)
		assertError(t, resp, body, http.StatusForbidden, "access_denied")
	}
	if issued := w.issued(); len(issued) != 0 {
		t.Fatalf("look-alike claim values caused exchanges: %+v", issued)
	}
	root, err := w.idp.MintFor("root", []string{"openid", "profile", "aliuid"})
	if err != nil {
		t.Fatal(err)
	}
	w.upstreamSaw(w.get("/", root))
	if issued := w.issued(); len(issued) != 1 || issued[0].RoleArn != w.adminARN {
		t.Fatalf("the exact claim value: exchanges %+v, want one for the admin role", issued)
	}
}

// TestFinding9DottedClaimNameCannotShadowNested: where a claim "org" exists,
// a top-level claim literally named "org.role" neither satisfies
// `claim … org.role admin` nor shows in the header built from
// {http.auth.user.org.role}; the nested value does.
func TestFinding9DottedClaimNameCannotShadowNested(t *testing.T) {
	e := newEnv(t, demoidp.Options{})
	e.start(e.globals(e.providerBlock("demo")) + e.site("edgeauth demo", `		claim /admin/* org.role admin
		header X-Org-Role {http.auth.user.org.role}`))
	admin := e.mint(map[string]any{"sub": "real-admin", "org": map[string]any{"role": "admin"}})
	waitFor(t, "the provider's keys", 10*time.Second, func() bool {
		resp, _ := e.get("/admin/x", admin)
		return resp.StatusCode == http.StatusOK
	})
	for _, claims := range []map[string]any{
		{"sub": "shadow", "org.role": "admin", "org": map[string]any{"role": "user"}},
		{"sub": "shadow", "org.role": "admin", "org": map[string]any{}},
		{"sub": "shadow", "org.role": "admin", "org": "admin"},
	} {
		resp, body := e.get("/admin/x", e.mint(claims))
		assertError(t, resp, body, http.StatusForbidden, "access_denied")
		got := e.upstreamSaw(e.get("/other", e.mint(claims)))
		if v := got.header("X-Org-Role"); v == "admin" {
			t.Errorf("%v: X-Org-Role = %q from the literal dotted claim", claims, v)
		}
	}
	got := e.upstreamSaw(e.get("/admin/x", admin))
	if got.header("X-Org-Role") != "admin" {
		t.Errorf("nested org.role: X-Org-Role = %q", got.header("X-Org-Role"))
	}
	// With no claim named "org", the whole path is one top-level name
	// (namespaced claims such as "https://example.com/roles" stay usable).
	namespaced := e.mint(map[string]any{"sub": "namespaced", "org.role": "admin"})
	if resp, body := e.get("/admin/x", namespaced); resp.StatusCode != http.StatusOK {
		t.Errorf("namespaced org.role claim: %d %s", resp.StatusCode, body)
	}
}

// TestFinding9ClaimPathsValidatedAtLoad: a claim path with an empty name
// could never match, so a claim rule or a
// role_from_claim with one does not load.
func TestFinding9ClaimPathsValidatedAtLoad(t *testing.T) {
	w := newSTSWorld(t, demoidp.Options{})
	globals := w.globals(w.providerBlock("demo") + "\n" + w.stsBlock())
	for body, want := range map[string]string{
		"\t\tclaim /admin/* org..role admin":                                                 `claim path "org..role" has an empty name`,
		"\t\tclaim /admin/* .role admin":                                                     `claim path ".role" has an empty name`,
		"\t\tsts alibaba {\n\t\t\trole_from_claim org.role. admin " + w.adminARN + "\n\t\t}": `role_from_claim 1: claim path "org.role." has an empty name`,
	} {
		got := loadError(t, globals+w.site("edgeauth demo", body))
		if !strings.Contains(got, want) {
			t.Errorf("%s: load error %q, want it to contain %q", strings.TrimSpace(body), got, want)
		}
	}
	if got := loadError(t, globals+w.site("edgeauth demo", "\t\tclaim /admin/* org.role admin")); got != "" {
		t.Errorf("a nested claim path was refused: %s", got)
	}
}
