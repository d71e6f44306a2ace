package integration

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/integration/demo"
)

// TestDemo runs the demo as `go run ./cmd/edgeauth-demo` does (on free
// ports) and follows what it prints: the curl lines' answers and a person's
// sign-in through the provider's login and consent pages.
func TestDemo(t *testing.T) {
	d, err := demo.Start(demo.Options{
		Listen: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		IdP:    fmt.Sprintf("127.0.0.1:%d", freePort(t)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	welcome, err := d.Welcome()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(welcome, d.URL) || !strings.Contains(welcome, "curl -H 'Authorization: Bearer ey") {
		t.Fatalf("the welcome text lacks the URL or a curl line:\n%s", welcome)
	}
	alice, bob, err := d.Tokens()
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, client: &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	call := func(path, token string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodGet, d.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		return e.do(req)
	}
	waitFor(t, "the demo's keys", 10*time.Second, func() bool {
		resp, _ := call("/", alice)
		return resp.StatusCode == http.StatusOK
	})
	got := e.upstreamSaw(call("/dns/records", alice))
	if got.header("X-Auth-Upn") != "alice@example.onaliyun.com" || !strings.HasPrefix(got.header("X-Sts-Access-Key-Id"), "STS.") {
		t.Errorf("alice's call: identity or STS credentials missing: %v", got.Headers)
	}
	if resp, body := call("/dns/records", bob); resp.StatusCode != http.StatusForbidden {
		t.Errorf("bob on /dns/records: %d %s, want 403", resp.StatusCode, body)
	}
	if resp, _ := call("/", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", resp.StatusCode)
	}

	// A person signs in: login page, consent page, back to the app.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: d.IdP.TLSConfig()}}
	page := func(resp *http.Response, err error) (*http.Response, string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	req, _ := http.NewRequest(http.MethodGet, d.URL+"/", nil)
	req.Header.Set("Accept", "text/html")
	resp, html := page(browser.Do(req))
	form := demoFormFields(t, html)
	form.Set("username", "alice")
	form.Set("password", "alice-pass")
	resp, html = page(browser.PostForm(resp.Request.URL.ResolveReference(mustURL(t, demoFormAction(t, html))).String(), form))
	consent := demoFormFields(t, html)
	consent.Set("action", "allow")
	resp, html = page(browser.PostForm(resp.Request.URL.ResolveReference(mustURL(t, demoFormAction(t, html))).String(), consent))
	if resp.StatusCode != http.StatusOK || !strings.Contains(html, "alice@example.onaliyun.com") || !strings.Contains(html, "X-Sts-Access-Key-Id") {
		t.Fatalf("after sign-in: %d at %s:\n%.2000s", resp.StatusCode, resp.Request.URL, html)
	}
	if !strings.HasPrefix(resp.Request.URL.String(), d.URL) {
		t.Errorf("sign-in ended at %s, not on the gateway", resp.Request.URL)
	}
}

var (
	hiddenInput  = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
	formActionRe = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
)

// demoFormFields collects a page's hidden form fields.
func demoFormFields(t *testing.T, html string) url.Values {
	t.Helper()
	v := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(html, -1) {
		v.Set(m[1], m[2])
	}
	if len(v) == 0 {
		t.Fatalf("no form on the page:\n%.1500s", html)
	}
	return v
}

// demoFormAction is where a page's form posts.
func demoFormAction(t *testing.T, html string) string {
	t.Helper()
	m := formActionRe.FindStringSubmatch(html)
	if m == nil {
		t.Fatalf("no form action on the page:\n%.1500s", html)
	}
	return strings.ReplaceAll(m[1], "&amp;", "&")
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
