package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// The cookie client: the login, logout and fleet tests drive the browser
// flow through Caddy and an OpenID provider with a plain HTTP client and a
// cookie jar that stands in for a browser. It follows redirects itself, hop
// by hop (so every hop can be inspected), and fills in the provider's login
// and consent forms like a person would. It runs no JavaScript and is not
// the real browser of browser_test.go (Chromium).

// hop is one request of a cookie client's navigation and its answer.
type hop struct {
	Method     string
	URL        *url.URL
	Status     int
	Location   string
	SetCookies []string
	Header     http.Header
	Body       []byte
}

// cookieClient is an HTTP client with a cookie jar that behaves like a
// browser during login: it sends navigation headers, follows redirects hop
// by hop and submits the provider's forms.
type cookieClient struct {
	e      *env
	jar    *cookiejar.Jar
	client *http.Client
	// user and password are typed into the provider's login form; consent
	// is the button pressed on its consent page ("allow" or "deny").
	user, password, consent string
	// fill recognises the provider's forms (default: the demo provider's).
	fill formFiller
}

// formFiller recognises a provider's login or consent form in a page and
// returns where to post it and with what; ok is false for any other page
// (or when the client has nothing to type in).
type formFiller func(b *cookieClient, h hop) (action string, form url.Values, ok bool)

// demoForms fills the demo provider's login and consent forms.
func demoForms(b *cookieClient, h hop) (string, url.Values, bool) {
	if h.Status != http.StatusOK || (!bytes.Contains(h.Body, loginFormID) && !bytes.Contains(h.Body, consentForm)) {
		return "", nil, false
	}
	id := reqIDField.FindSubmatch(h.Body)
	action := formAction.FindSubmatch(h.Body)
	if id == nil || action == nil {
		b.e.t.Fatalf("provider form without req or action: %s", h.Body)
	}
	u, _ := h.URL.Parse(string(action[1]))
	form := url.Values{"req": {string(id[1])}}
	if bytes.Contains(h.Body, loginFormID) {
		if b.user == "" {
			return "", nil, false // a person would stop at the login page
		}
		form.Set("username", b.user)
		form.Set("password", b.password)
	} else {
		form.Set("action", b.consent)
	}
	return u.String(), form, true
}

// newCookieClient returns a cookie client with an empty jar that trusts the
// demo provider's CA and signs in as user (password "<user>-pass").
func (e *env) newCookieClient(user string) *cookieClient {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = e.idp.TLSConfig()
	e.t.Cleanup(tr.CloseIdleConnections)
	return &cookieClient{
		e:   e,
		jar: jar,
		client: &http.Client{
			Jar:           jar,
			Transport:     reloadSafe{tr},
			Timeout:       15 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		user: user, password: user + "-pass", consent: "allow", fill: demoForms,
	}
}

// do sends one request (no redirect following) with browser-like headers.
func (b *cookieClient) do(method, target string, form url.Values, headers ...string) hop {
	b.e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		b.e.t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8")
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Set(name, strings.TrimSpace(value))
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.e.t.Fatalf("%s %s: %v", method, redactURL(target), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		b.e.t.Fatal(err)
	}
	return hop{
		Method: method, URL: req.URL, Status: resp.StatusCode, Location: resp.Header.Get("Location"),
		SetCookies: resp.Header.Values("Set-Cookie"), Header: resp.Header, Body: data,
	}
}

var (
	reqIDField  = regexp.MustCompile(`name="req" value="([^"]+)"`)
	formAction  = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	loginFormID = []byte(`id="login-form"`)
	consentForm = []byte(`id="consent-form"`)
	chunkName   = regexp.MustCompile(`^edgeauth_[1-9][0-9]?$`)
)

// navigate opens target and follows redirects and the provider's forms until
// a page that is neither; it returns every hop.
func (b *cookieClient) navigate(target string, headers ...string) []hop {
	b.e.t.Helper()
	var hops []hop
	method, next, form := http.MethodGet, target, url.Values(nil)
	for range 25 {
		h := b.do(method, next, form, headers...)
		hops = append(hops, h)
		switch {
		case h.Status >= 300 && h.Status < 400 && h.Location != "":
			loc, err := h.URL.Parse(h.Location)
			if err != nil {
				b.e.t.Fatalf("bad Location %q: %v", h.Location, err)
			}
			method, next, form = http.MethodGet, loc.String(), nil
		default:
			action, f, ok := b.fill(b, h)
			if !ok {
				return hops
			}
			method, next, form = http.MethodPost, action, f
		}
		headers = nil // extra headers only on the first request
	}
	b.e.t.Fatalf("more than 25 hops from %s", target)
	return nil
}

// last returns the final hop.
func last(hops []hop) hop { return hops[len(hops)-1] }

// describeHops lists the hops for failure messages (without query strings, which
// carry codes and state).
func describeHops(hops []hop) string {
	var b strings.Builder
	for _, h := range hops {
		fmt.Fprintf(&b, "\n  %s %s://%s%s → %d", h.Method, h.URL.Scheme, h.URL.Host, h.URL.Path, h.Status)
	}
	return b.String()
}

func redactURL(s string) string {
	if i := strings.IndexByte(s, '?'); i >= 0 {
		return s[:i] + "?…"
	}
	return s
}

// login navigates to path and requires the flow to end on the upstream with
// 200; it returns the hops.
func (b *cookieClient) login(path string) []hop {
	b.e.t.Helper()
	hops := b.navigate(b.e.url(path))
	end := last(hops)
	if end.Status != http.StatusOK || end.URL.Host != fmt.Sprintf("127.0.0.1:%d", b.e.port) {
		b.e.t.Fatalf("login through %s did not end on the upstream: %s\nbody: %.600s", path, describeHops(hops), end.Body)
	}
	return hops
}

// api sends an API-style request (JSON, no navigation) with the client's
// cookies.
func (b *cookieClient) api(path string, headers ...string) (*http.Response, []byte) {
	b.e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.e.url(path), nil)
	if err != nil {
		b.e.t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Set(name, strings.TrimSpace(value))
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.e.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// cookies returns the client's cookies for the gateway.
func (b *cookieClient) cookies() []*http.Cookie {
	u, _ := url.Parse(b.e.url("/"))
	return b.jar.Cookies(u)
}

// setCookies replaces the client's gateway cookies: every current one is
// expired and cs are set.
func (b *cookieClient) setCookies(cs []*http.Cookie) {
	u, _ := url.Parse(b.e.url("/"))
	var del []*http.Cookie
	for _, c := range b.jar.Cookies(u) {
		del = append(del, &http.Cookie{Name: c.Name, Value: "", Path: "/", MaxAge: -1})
	}
	b.jar.SetCookies(u, del)
	for _, c := range cs {
		b.jar.SetCookies(u, []*http.Cookie{{Name: c.Name, Value: c.Value, Path: "/"}})
	}
}

// sessionCookies are the client's cookies named edgeauth or edgeauth_<n>.
func (b *cookieClient) sessionCookies() []*http.Cookie {
	var out []*http.Cookie
	for _, c := range b.cookies() {
		if c.Name == "edgeauth" || chunkName.MatchString(c.Name) {
			out = append(out, c)
		}
	}
	return out
}

// userinfo fetches /oauth2/userinfo with the client's cookies.
func (b *cookieClient) userinfo() (int, map[string]any) {
	b.e.t.Helper()
	resp, body := b.api("/oauth2/userinfo")
	var out map[string]any
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &out); err != nil {
			b.e.t.Fatalf("userinfo is not JSON: %v: %s", err, body)
		}
	}
	return resp.StatusCode, out
}

// setsSession reports whether a hop sets a non-empty session cookie.
func setsSession(h hop) bool {
	for _, sc := range h.SetCookies {
		name, rest, _ := strings.Cut(sc, "=")
		value, _, _ := strings.Cut(rest, ";")
		if (name == "edgeauth" || strings.HasPrefix(name, "edgeauth_")) && !strings.HasPrefix(name, "edgeauth_login_") && name != "edgeauth_logout" && name != "edgeauth_signedout" && value != "" {
			return true
		}
	}
	return false
}
