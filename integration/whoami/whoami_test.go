package whoami

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

func start(t *testing.T) string {
	t.Helper()
	srv, base, err := Start("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("base URL %q", base)
	}
	return base
}

func do(t *testing.T, method, url string, headers map[string][]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range headers {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestJSONByDefault(t *testing.T) {
	base := start(t)
	resp, body := do(t, http.MethodPut, base+"/api/items?b=2&a=1&a=3", map[string][]string{
		"X-Auth-Subject":          {"2000000000000002"},
		"X-Auth-Scopes":           {"openid /acs/alidns"},
		"X-Sts-Access-Key-Secret": {"SECRETabcd"},
		"X-Custom":                {"one", "two"},
	})
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	var e Echo
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, body)
	}
	if e.Method != "PUT" || e.Path != "/api/items" || strings.Join(e.Query["a"], ",") != "1,3" || e.Query["b"][0] != "2" {
		t.Errorf("echo %+v", e)
	}
	if strings.Join(e.Headers["X-Custom"], ",") != "one,two" {
		t.Errorf("headers %v", e.Headers)
	}
	want := map[string]string{"X-Auth-Subject": "2000000000000002", "X-Auth-Scopes": "openid /acs/alidns", "X-Sts-Access-Key-Secret": "SECRETabcd"}
	if len(e.Identity) != len(want) {
		t.Fatalf("identity %v, want %v", e.Identity, want)
	}
	for k, v := range want {
		if e.Identity[k] != v {
			t.Errorf("identity[%s] = %q, want %q", k, e.Identity[k], v)
		}
	}
	// Header names come out sorted in the raw JSON.
	if strings.Index(body, `"X-Auth-Scopes"`) > strings.Index(body, `"X-Custom"`) {
		t.Error("headers are not sorted")
	}
	// */* and ties give JSON.
	for _, accept := range []string{"*/*", "application/json, text/html", "text/html;q=0.5, application/json"} {
		if resp, _ := do(t, http.MethodGet, base+"/", map[string][]string{"Accept": {accept}}); resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("Accept %q gave %q", accept, resp.Header.Get("Content-Type"))
		}
	}
}

func TestHTMLForBrowsersMasksSecrets(t *testing.T) {
	base := start(t)
	browser := "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	resp, body := do(t, http.MethodGet, base+"/dash", map[string][]string{
		"Accept":                  {browser},
		"X-Auth-Upn":              {"alice@example.onaliyun.com"},
		"X-Sts-Access-Key-Id":     {"STS.KEYID1234"},
		"X-Sts-Access-Key-Secret": {"verysecretvalueWXYZ"},
		"X-Sts-Security-Token":    {"CAISlongtokenvalue9876"},
	})
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("Content-Type %q", resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{`id="identity"`, "alice@example.onaliyun.com", "STS.KEYID1234", "••••••••WXYZ", "••••••••9876", "/dash"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, secret := range []string{"verysecretvalue", "CAISlongtoken"} {
		if strings.Contains(body, secret) {
			t.Errorf("page shows unmasked %q", secret)
		}
	}
	_, body = do(t, http.MethodGet, base+"/", map[string][]string{"Accept": {"text/html"}})
	if !strings.Contains(body, `id="no-identity"`) {
		t.Error("a request without identity headers should say so")
	}
}

func TestHTMLEscapesHostileInput(t *testing.T) {
	base := start(t)
	hostile := `"><script>alert(1)</script><img src=x onerror=alert(2)>`
	_, body := do(t, http.MethodGet, base+"/%3Cscript%3Ealert(3)%3C/script%3E?q=%3Cscript%3Ealert(4)%3C/script%3E", map[string][]string{
		"Accept":      {"text/html"},
		"X-Auth-Name": {hostile},
		"X-Evil":      {hostile},
	})
	for _, bad := range []string{"<script>", "<img"} {
		if strings.Contains(body, bad) {
			t.Fatalf("page reflects %q unescaped:\n%s", bad, body)
		}
	}
	if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") || !strings.Contains(body, "alert(3)") || !strings.Contains(body, "alert(4)") {
		t.Fatalf("hostile values should be shown escaped:\n%s", body)
	}
}

func TestQuality(t *testing.T) {
	for accept, html := range map[string]bool{
		"":                                     false,
		"text/html":                            true,
		"text/*":                               true,
		"text/*;q=0.9, application/json;q=0.8": true,
		"text/html;q=0, */*":                   false,
		"application/json;q=0.1, */*;q=0.5, text/html;q=0.4": true,
		"TEXT/HTML; Q=1": true,
	} {
		if got := prefersHTML(accept); got != html {
			t.Errorf("prefersHTML(%q) = %v, want %v", accept, got, html)
		}
	}
}

// TestLogoutLink: with a LogoutPath, the HTML page of a request that carried
// an identity links it; anonymous pages, JSON and the default handler do not.
func TestLogoutLink(t *testing.T) {
	srv, base, err := StartWith("", Options{LogoutPath: "/oauth2/logout"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	html := map[string][]string{"Accept": {"text/html"}, "X-Auth-Subject": {"2000000000000002"}}
	link := `<a id="logout" href="/oauth2/logout">Sign out</a>`
	if _, body := do(t, http.MethodGet, base+"/", html); !strings.Contains(body, link) {
		t.Errorf("signed-in page lacks the logout link:\n%s", body)
	}
	if _, body := do(t, http.MethodGet, base+"/", map[string][]string{"Accept": {"text/html"}}); strings.Contains(body, "logout") {
		t.Errorf("an anonymous page links logout")
	}
	if _, body := do(t, http.MethodGet, base+"/", map[string][]string{"X-Auth-Subject": {"2000000000000002"}}); strings.Contains(body, "Sign out") {
		t.Errorf("JSON carries the link")
	}
	if _, body := do(t, http.MethodGet, start(t)+"/", html); strings.Contains(body, "logout") {
		t.Errorf("the default handler links logout")
	}
}
