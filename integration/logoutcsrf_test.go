package integration

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

var (
	logoutFormAction = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	logoutCSRFField  = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

// confirmForm returns where the logout confirm page's form posts and the
// values it sends, failing the test unless h is that page.
func confirmForm(t *testing.T, what string, h hop) (string, url.Values) {
	t.Helper()
	action := logoutFormAction.FindSubmatch(h.Body)
	csrf := logoutCSRFField.FindSubmatch(h.Body)
	if h.Status != http.StatusOK || action == nil || csrf == nil {
		t.Fatalf("%s: %d %.400s, want the logout confirm page with a guarded POST form", what, h.Status, h.Body)
	}
	u, err := h.URL.Parse(html.UnescapeString(string(action[1])))
	if err != nil {
		t.Fatal(err)
	}
	return u.String(), url.Values{"csrf": {html.UnescapeString(string(csrf[1]))}}
}

// TestFinding8LogoutCSRFByCrossSitePost: a logout that another site (or a
// sibling subdomain) makes the browser send, by POST or GET, shows the
// confirm page and leaves the session alone; only same-origin requests and
// requests from non-browser clients (no Origin, Referer or Sec-Fetch-Site)
// log out silently. The confirm page's button logs out, also in a browser
// that sends `Origin: null` and no Sec-Fetch-Site (the guard and its
// SameSite=Strict cookie vouch for it), and a guard from another browser
// does not.
func TestFinding8LogoutCSRFByCrossSitePost(t *testing.T) {
	e := newEnv(t, demoidp.Options{AutoApprove: true})
	e.startLogin(loginOpts{login: "param login_hint alice"})
	self := fmt.Sprintf("http://127.0.0.1:%d", e.port)
	logout := e.url("/oauth2/logout")

	b := e.newCookieClient("")
	b.login("/")
	refused := []struct {
		method  string
		headers []string
	}{
		{http.MethodPost, []string{"Sec-Fetch-Site: cross-site", "Origin: https://evil.example"}},
		{http.MethodPost, []string{"Sec-Fetch-Site: cross-site"}},
		{http.MethodPost, []string{"Sec-Fetch-Site: same-site", "Origin: http://other.127.0.0.1.nip.io"}},
		{http.MethodPost, []string{"Origin: https://evil.example"}},
		{http.MethodPost, []string{"Origin: null"}},
		{http.MethodPost, []string{"Origin: " + self + ".evil.example"}},
		{http.MethodPost, []string{"Referer: https://evil.example/page"}},
		{http.MethodPost, []string{"Sec-Fetch-Site: same-origin", "Origin: https://evil.example"}},
		{http.MethodGet, []string{"Sec-Fetch-Site: cross-site"}},
		{http.MethodGet, []string{"Sec-Fetch-Site: same-site"}},
		{http.MethodGet, []string{"Origin: https://evil.example"}},
		{http.MethodGet, []string{"Referer: https://evil.example/page"}},
	}
	for _, c := range refused {
		var form url.Values
		if c.method == http.MethodPost {
			form = url.Values{}
		}
		h := b.do(c.method, logout, form, c.headers...)
		what := fmt.Sprintf("%s logout with %q", c.method, c.headers)
		confirmForm(t, what, h)
		if setsSession(h) || len(b.sessionCookies()) == 0 {
			t.Errorf("%s touched the session cookies", what)
		}
		if status, _ := b.userinfo(); status != http.StatusOK {
			t.Fatalf("%s logged the user out: userinfo %d", what, status)
		}
	}

	// Another browser's guard does not log this browser out.
	other := e.newCookieClient("")
	other.login("/")
	_, foreign := confirmForm(t, "the other browser's confirm page", other.do(http.MethodPost, logout, url.Values{}, "Sec-Fetch-Site: cross-site"))
	h := b.do(http.MethodPost, logout, foreign, "Sec-Fetch-Site: cross-site", "Origin: https://evil.example")
	confirmForm(t, "a cross-site POST with another browser's guard", h)
	if status, _ := b.userinfo(); status != http.StatusOK {
		t.Fatalf("another browser's guard logged the user out: userinfo %d", status)
	}
	// Nor does a forged guard.
	h = b.do(http.MethodPost, logout, url.Values{"csrf": {"garbage"}}, "Origin: null")
	confirmForm(t, "a POST with a forged guard", h)

	// The confirm page's button works, also from a browser that sends
	// Origin: null and no fetch metadata.
	h = b.do(http.MethodPost, logout, url.Values{}, "Sec-Fetch-Site: cross-site", "Origin: https://evil.example")
	action, form := confirmForm(t, "the cross-site POST", h)
	h = b.do(http.MethodPost, action, form, "Origin: null")
	if h.Status != http.StatusFound || len(b.sessionCookies()) != 0 {
		t.Fatalf("the confirm button: %d, %d session cookies left; want 302 and a logout", h.Status, len(b.sessionCookies()))
	}
	if status, _ := b.userinfo(); status != http.StatusUnauthorized {
		t.Errorf("userinfo after the confirmed logout: %d, want 401", status)
	}
	// The other browser's session was never touched.
	if status, _ := other.userinfo(); status != http.StatusOK {
		t.Errorf("the other browser's session: userinfo %d, want 200", status)
	}

	// Same-origin and non-browser logouts stay silent.
	allowed := []struct {
		method  string
		headers []string
	}{
		{http.MethodPost, []string{"Sec-Fetch-Site: same-origin", "Origin: " + self}},
		{http.MethodPost, []string{"Origin: " + self}},
		{http.MethodPost, []string{"Referer: " + self + "/account"}},
		{http.MethodPost, nil}, // curl, scripts
		{http.MethodGet, []string{"Sec-Fetch-Site: same-origin"}},
		{http.MethodGet, []string{"Sec-Fetch-Site: none"}}, // typed into the address bar
		{http.MethodGet, nil},
	}
	for _, c := range allowed {
		b := e.newCookieClient("")
		b.login("/")
		var form url.Values
		if c.method == http.MethodPost {
			form = url.Values{}
		}
		h := b.do(c.method, logout, form, c.headers...)
		if h.Status != http.StatusFound || bytes.Contains(h.Body, []byte(`name="csrf"`)) || len(b.sessionCookies()) != 0 {
			t.Errorf("%s logout with %q: %d, %d session cookies left; want 302 and a logout", c.method, c.headers, h.Status, len(b.sessionCookies()))
		}
	}
}

// TestFinding8CrossSiteLogoutInChromium: in a real headless chromium signed
// in at the gateway, a page on another site that auto-submits a logout form
// lands on the confirm page and the session survives; the confirm page's
// button then logs out. It fails (never skips) without chromium.
func TestFinding8CrossSiteLogoutInChromium(t *testing.T) {
	exe := chromiumPath()
	if _, err := os.Stat(exe); err != nil {
		t.Fatalf("chromium is needed for this test and was not found at %s (%v); install it with `apt-get install chromium` or set EDGEAUTH_CHROMIUM", exe, err)
	}
	e := newEnv(t, demoidp.Options{})
	e.startLogin(loginOpts{})

	// The attacker's site: localhost is another site than 127.0.0.1.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	evil := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!DOCTYPE html><html><body><p id="evil">win a prize</p>`+
			`<form id="f" method="post" action="%s"></form>`+
			`<script>document.getElementById("f").submit()</script></body></html>`, e.url("/oauth2/logout"))
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = evil.Serve(ln) }()
	t.Cleanup(func() { _ = evil.Close() })
	evilURL := fmt.Sprintf("http://localhost:%d/", ln.Addr().(*net.TCPAddr).Port)

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.DisableGPU, chromedp.NoSandbox, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("ignore-certificate-errors", true),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	run := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, actions...); err != nil {
			t.Fatalf("%s: %v%s", step, err, screenshot(bctx))
		}
	}
	run("sign in as alice",
		chromedp.Navigate(e.url("/hello")),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), "alice-pass"),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("allow")),
	)
	if _, err := chromedp.RunResponse(bctx, chromedp.Click(chromedp.ID("allow"))); err != nil {
		t.Fatalf("consent: %v%s", err, screenshot(bctx))
	}
	if n := sessionCookieCount(bctx, t, e.url("/")); n == 0 {
		t.Fatal("chromium holds no session cookie after login")
	}

	run("visit the other site, which posts a logout form to the gateway",
		chromedp.Navigate(evilURL),
		chromedp.WaitVisible(chromedp.CSS(`button[type="submit"]`)),
	)
	if loc := get(t, bctx, chromedp.Location()); !strings.HasPrefix(loc, e.url("/oauth2/logout")) {
		t.Fatalf("after the other site's form the browser is at %s, want the gateway's confirm page", loc)
	}
	if n := sessionCookieCount(bctx, t, e.url("/")); n == 0 {
		t.Fatal("the other site's POST logged the user out")
	}

	cctx, ccancel := context.WithTimeout(bctx, 10*time.Second)
	err = chromedp.Do(cctx, chromedp.Click(chromedp.CSS(`button[type="submit"]`)), chromedp.WaitVisible(chromedp.ID("title")))
	ccancel()
	if err != nil {
		loc := get(t, bctx, chromedp.Location())
		body := get(t, bctx, chromedp.Text(chromedp.CSS("body")))
		t.Fatalf("press the confirm page's button: %v; the browser is at %s showing %.300q", err, redactURL(loc), body)
	}
	if after := get(t, bctx, chromedp.Text(chromedp.ID("title"))); after != "Signed out" {
		t.Errorf("after the confirm button the browser shows %q, want the provider's Signed out page", after)
	}
	if n := sessionCookieCount(bctx, t, e.url("/")); n != 0 {
		t.Errorf("%d session cookies left after the confirmed logout", n)
	}
}
