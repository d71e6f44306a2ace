package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/edgeauth/caddy-edgeauth/integration/demo"
	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// chromiumPath is Debian's chromium; EDGEAUTH_CHROMIUM overrides it.
func chromiumPath() string {
	if p := os.Getenv("EDGEAUTH_CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// TestBrowserLoginAndLogout signs in through the demo provider's login and
// consent pages with a real headless chromium, checks that the upstream page
// shows alice's identity, then logs out. It fails (never skips) when
// chromium is missing or cannot start: scripts/test.sh installs it.
func TestBrowserLoginAndLogout(t *testing.T) {
	exe := chromiumPath()
	if _, err := os.Stat(exe); err != nil {
		t.Fatalf("chromium is needed for the browser test and was not found at %s (%v); install it with `apt-get install chromium` or set EDGEAUTH_CHROMIUM", exe, err)
	}
	// The demo itself (`go run ./cmd/edgeauth-demo`), on free ports: its
	// whoami upstream verifies the gateway's signed identity assertion.
	d, err := demo.Start(demo.Options{
		Listen: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		IdP:    fmt.Sprintf("127.0.0.1:%d", freePort(t)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	e := struct {
		idp *demoidp.Server
		url func(string) string
	}{idp: d.IdP, url: func(p string) string { return d.URL + p }}

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.DisableGPU,
		chromedp.NoSandbox,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("ignore-certificate-errors", true), // the demo IdP has its own CA
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("chromium (%s) could not start: %v", exe, err)
	}
	run := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, actions...); err != nil {
			shot := screenshot(bctx)
			if errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("timed out: %w", err)
			}
			t.Fatalf("%s: %v%s", step, err, shot)
		}
	}

	gateway := e.url("/hello")
	run("open the gateway and reach the provider's login page",
		chromedp.Navigate(gateway),
		chromedp.WaitVisible(chromedp.ID("username")),
	)
	loginURL := get(t, bctx, chromedp.Location())
	if !strings.HasPrefix(loginURL, e.idp.Issuer()) {
		t.Fatalf("the login page is at %s, want the demo provider %s", loginURL, e.idp.Issuer())
	}
	run("sign in as alice",
		chromedp.SendKeys(chromedp.ID("username"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), "alice-pass"),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("allow")),
	)
	// The click starts a redirect chain (consent → callback → the page);
	// RunResponse waits until the page at its end has loaded.
	resp, err := chromedp.RunResponse(bctx, chromedp.Click(chromedp.ID("allow")))
	if err != nil {
		t.Fatalf("consent and land on the upstream: %v%s", err, screenshot(bctx))
	}
	if resp.Status != 200 {
		t.Fatalf("after consent the browser got status %d from %s%s", resp.Status, redactURL(resp.URL), screenshot(bctx))
	}
	run("wait for the upstream page", chromedp.WaitReady(chromedp.CSS("body")))
	landed := get(t, bctx, chromedp.Location())
	page := get(t, bctx, chromedp.Text(chromedp.CSS("body")))
	if landed != gateway {
		t.Errorf("landed on %s, want %s", landed, gateway)
	}
	for _, want := range []string{"X-Auth-Upn", "alice@example.onaliyun.com", "X-Auth-Subject", "2000000000000002"} {
		if !strings.Contains(page, want) {
			t.Errorf("the upstream page does not show %q:\n%.1500s", want, page)
		}
	}
	// whoami checked the assertion the gateway signed for alice.
	verdict := get(t, bctx, chromedp.Text(chromedp.ID("assertion")))
	subject := get(t, bctx, chromedp.Text(chromedp.ID("assertion-subject")))
	if !strings.HasPrefix(verdict, "assertion verified") || subject != "2000000000000002" {
		t.Errorf("the demo upstream says %q (subject %q), want the assertion verified for alice", verdict, subject)
	}
	if strings.Contains(page, "edgeauth=") {
		t.Errorf("the upstream page shows the session cookie")
	}
	if n := sessionCookieCount(bctx, t, e.url("/")); n == 0 {
		t.Fatal("chromium holds no session cookie after login")
	}

	run("log out",
		chromedp.Navigate(e.url("/oauth2/logout")),
		chromedp.WaitVisible(chromedp.ID("title")),
	)
	after := get(t, bctx, chromedp.Text(chromedp.ID("title")))
	if after != "Signed out" {
		t.Errorf("after logout the browser shows %q, want the provider's Signed out page", after)
	}
	if n := sessionCookieCount(bctx, t, e.url("/")); n != 0 {
		t.Errorf("%d session cookies left after logout", n)
	}
	if l := e.idp.Logouts(); len(l) != 1 || l[0].ClientID != demoidp.DefaultClientID || l[0].IDTokenHintValid {
		t.Errorf("the provider recorded logouts %+v, want one for client %s without id_token_hint", l, demoidp.DefaultClientID)
	}
	// The provider's Signed out page stays at the end_session URL, so that
	// URL is in the browser's history: it must carry no token
	// (TestRedTeamLogoutURLCarriesNoIDToken).
	history, err := chromedp.Run(bctx, func(ctx context.Context, tg *chromedp.Target) (cdppage.GetNavigationHistoryResult, error) {
		return cdp.Call(ctx, tg, cdppage.GetNavigationHistory, cdp.Empty{})
	})
	if err != nil {
		t.Fatalf("reading chromium's history: %v", err)
	}
	sawEndSession := false
	for _, entry := range history.Entries {
		sawEndSession = sawEndSession || strings.HasPrefix(entry.URL, e.idp.Issuer()+demoidp.PathLogout)
		if jwtShape.MatchString(entry.URL) || jwtShape.MatchString(entry.UserTypedURL) {
			t.Errorf("the browser's history holds a URL with a JWT: %s", redactURL(entry.URL))
		}
	}
	if !sawEndSession {
		t.Errorf("the end_session URL is not in the browser's history (%d entries), so the check above saw nothing", len(history.Entries))
	}
	run("the session is gone: the gateway sends the browser to login again",
		chromedp.Navigate(gateway),
		chromedp.WaitVisible(chromedp.ID("username")),
	)
	again := get(t, bctx, chromedp.Location())
	if !strings.HasPrefix(again, e.idp.Issuer()) {
		t.Errorf("after logout the gateway answered at %s, want the provider's login page", again)
	}
}

// get runs an action that returns a value, failing the test on error.
func get[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("chromium: %v%s", err, screenshot(ctx))
	}
	return v
}

// sessionCookieCount counts chromium's edgeauth session cookies for url.
func sessionCookieCount(ctx context.Context, t *testing.T, url string) int {
	t.Helper()
	res, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) (network.GetCookiesResult, error) {
		return cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{url}})
	})
	if err != nil {
		t.Fatalf("reading chromium's cookies: %v", err)
	}
	n := 0
	for _, c := range res.Cookies {
		if c.Name == "edgeauth" || chunkName.MatchString(c.Name) {
			n++
		}
	}
	return n
}

// screenshot saves a screenshot of the current page into
// $EDGEAUTH_BROWSER_ARTIFACTS (when set) and returns a note for the failure
// message.
func screenshot(ctx context.Context) string {
	dir := os.Getenv("EDGEAUTH_BROWSER_ARTIFACTS")
	if dir == "" {
		return " (set EDGEAUTH_BROWSER_ARTIFACTS=<dir> for a screenshot)"
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(sctx, chromedp.Location())
	buf, err := chromedp.Run(sctx, chromedp.FullScreenshot(80))
	if err != nil {
		return " (no screenshot: " + err.Error() + ")"
	}
	p := filepath.Join(dir, fmt.Sprintf("browser-%d.jpg", time.Now().UnixNano()))
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		return " (no screenshot: " + err.Error() + ")"
	}
	return fmt.Sprintf(" (page %s, screenshot %s)", redactURL(loc), p)
}
