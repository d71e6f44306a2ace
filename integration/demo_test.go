package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
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
	for _, want := range []string{"curl -s " + d.Admin + "/edgeauth/providers", "curl -s " + d.Admin + "/metrics", "tail -f " + d.AccessLog, d.URL + "/oauth2/logout"} {
		if !strings.Contains(welcome, want) {
			t.Errorf("the welcome text lacks %q:\n%s", want, welcome)
		}
	}
	if strings.HasSuffix(d.Admin, ":0") || !strings.HasPrefix(d.Admin, "http://127.0.0.1:") {
		t.Errorf("admin address %q is not one a reader can use", d.Admin)
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
	// whoami checks the gateway's signed identity assertion through the
	// assertion package and reports the result.
	var checked struct {
		Assertion *struct {
			Verified bool   `json:"verified"`
			Status   string `json:"status"`
		} `json:"assertion"`
	}
	if _, raw := call("/", alice); json.Unmarshal(raw, &checked) != nil || checked.Assertion == nil || !checked.Assertion.Verified {
		t.Errorf("whoami did not verify the gateway's assertion: %s", raw)
	}
	if resp, body := call("/dns/records", bob); resp.StatusCode != http.StatusForbidden {
		t.Errorf("bob on /dns/records: %d %s, want 403", resp.StatusCode, body)
	}
	if resp, _ := call("/", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", resp.StatusCode)
	}

	// What the welcome text promises: the admin API with the provider and
	// the metrics, and an access log with user_id.
	admin := func(path string) string {
		resp, err := http.Get(d.Admin + path)
		if err != nil {
			t.Fatalf("GET %s%s: %v", d.Admin, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s%s: %d %s", d.Admin, path, resp.StatusCode, b)
		}
		return string(b)
	}
	if body := admin("/edgeauth/providers"); !strings.Contains(body, `"name":"demo"`) {
		t.Errorf("/edgeauth/providers does not list the demo provider: %s", body)
	}
	metrics := admin("/metrics")
	for _, want := range []string{
		`caddy_edgeauth_decisions_total{outcome="allow",provider="demo",reason="authorized"}`,
		`caddy_edgeauth_jwks_keys{provider="demo"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// At least the one exchange of alice's call (counters are kept across
	// configs in one process, and other tests may run demos too).
	if !regexp.MustCompile(`\ncaddy_edgeauth_sts_exchanges_total\{result="ok",sts="alibaba"\} [1-9]`).MatchString(metrics) {
		t.Errorf("/metrics counts no successful STS exchange")
	}
	// The dashboard and the alert rules query names a real Caddy exports
	// (labels and values are checked against the registry in module/metrics).
	for _, file := range []string{"../docs/grafana/edgeauth.json", "../docs/prometheus/edgeauth-alerts.yml"} {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		names := regexp.MustCompile(`caddy_edgeauth_[a-z0-9_]+`).FindAllString(string(raw), -1)
		if len(names) == 0 {
			t.Fatalf("%s names no metric", file)
		}
		for _, name := range names {
			if !strings.Contains(metrics, "\n"+name+"{") && !strings.Contains(metrics, "\n"+name+" ") {
				t.Errorf("%s queries %s; the demo's /metrics has no such series", file, name)
			}
		}
	}
	aliceSub := got.header("X-Auth-Subject")
	waitFor(t, "alice's user_id in the access log", 10*time.Second, func() bool {
		raw, _ := os.ReadFile(d.AccessLog)
		for _, line := range strings.Split(string(raw), "\n") {
			var entry struct {
				UserID  string `json:"user_id"`
				Request struct {
					URI string `json:"uri"`
				} `json:"request"`
			}
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Request.URI == "/dns/records" && entry.UserID == aliceSub && aliceSub != "" {
				return true
			}
		}
		return false
	})

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

	// The app's page links logout; following the link ends the session.
	req, _ = http.NewRequest(http.MethodGet, d.URL+"/", nil)
	req.Header.Set("Accept", "text/html")
	resp, html = page(browser.Do(req))
	m := logoutLinkRe.FindStringSubmatch(html)
	if m == nil {
		t.Fatalf("the signed-in page has no Sign out link:\n%.2000s", html)
	}
	req, _ = http.NewRequest(http.MethodGet, resp.Request.URL.ResolveReference(mustURL(t, m[1])).String(), nil)
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	page(browser.Do(req))
	noFollow := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ = http.NewRequest(http.MethodGet, d.URL+"/", nil)
	req.Header.Set("Accept", "text/html")
	if resp, _ = page(noFollow.Do(req)); resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), d.IdP.Issuer()) {
		t.Errorf("after Sign out, / answers %d to %q; want a redirect to the provider (no session)", resp.StatusCode, resp.Header.Get("Location"))
	}
}

var (
	hiddenInput  = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
	formActionRe = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	logoutLinkRe = regexp.MustCompile(`<a id="logout" href="([^"]+)">Sign out</a>`)
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
