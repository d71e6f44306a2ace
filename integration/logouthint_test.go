package integration

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// jwtShape finds a compact JWS (header.payload.signature, base64url JSON
// objects) anywhere in a string.
var jwtShape = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`)

// jwtsIn returns every JWT-shaped string in the gateway's answer: the
// Location URL (query-unescaped too), every other header value and the body.
func jwtsIn(h hop) []string {
	var texts []string
	for name, values := range h.Header {
		for _, v := range values {
			texts = append(texts, name+": "+v)
			if u, err := url.QueryUnescape(v); err == nil {
				texts = append(texts, u)
			}
		}
	}
	texts = append(texts, string(h.Body))
	if u, err := url.QueryUnescape(string(h.Body)); err == nil {
		texts = append(texts, u)
	}
	var out []string
	for _, s := range texts {
		out = append(out, jwtShape.FindAllString(s, -1)...)
	}
	return out
}

// TestRedTeamLogoutURLCarriesNoIDToken: RP-initiated logout must not put in
// a URL (or in the 302's body) a token this gateway accepts as a bearer
// credential. By default the ID token is a bearer token here (typ JWT, aud
// the client ID), so the logout redirect names the client with client_id
// instead of sending id_token_hint; the provider still ends its session and
// returns the browser to post_logout_redirect_uri. Each logout is checked by
// GET (Go writes the URL into the 302's HTML body) and by POST.
func TestRedTeamLogoutURLCarriesNoIDToken(t *testing.T) {
	e := newEnv(t, demoidp.Options{AutoApprove: true})
	postLogout := fmt.Sprintf("http://127.0.0.1:%d/bye", e.port)
	e.startLogin(loginOpts{login: "param login_hint alice\n\t\t\tpost_logout_redirect_uri " + postLogout, rules: "\t\tpublic /bye\n"})

	for i, method := range []string{http.MethodGet, http.MethodPost} {
		b := e.newCookieClient("")
		b.login("/")
		var form url.Values
		if method == http.MethodPost {
			form = url.Values{}
		}
		h := b.do(method, e.url("/oauth2/logout"), form, "Sec-Fetch-Site: same-origin")
		if h.Status != http.StatusFound || !strings.HasPrefix(h.Location, e.idp.Issuer()+demoidp.PathLogout) {
			t.Fatalf("%s logout: %d → %q, want 302 to the end_session_endpoint", method, h.Status, redactURL(h.Location))
		}
		for _, tok := range jwtsIn(h) {
			resp, _ := e.get("/", tok, "Accept: application/json")
			t.Errorf("%s logout: the gateway's answer carries a JWT (a bearer request with it gets %d)", method, resp.StatusCode)
		}
		loc, _ := url.Parse(h.Location)
		q := loc.Query()
		if q.Has("id_token_hint") || q.Get("client_id") != demoidp.DefaultClientID || q.Get("post_logout_redirect_uri") != postLogout || q.Get("state") == "" {
			t.Errorf("%s logout: end_session parameters id_token_hint present=%v client_id=%q post_logout_redirect_uri=%q state present=%v; want client_id, post_logout_redirect_uri and state only",
				method, q.Has("id_token_hint"), q.Get("client_id"), q.Get("post_logout_redirect_uri"), q.Get("state") != "")
		}
		if len(b.sessionCookies()) != 0 {
			t.Errorf("%s logout: %d session cookies left", method, len(b.sessionCookies()))
		}
		end := last(b.navigate(h.Location))
		if end.URL.Path != "/bye" || end.Status != http.StatusOK || end.URL.Query().Get("state") != q.Get("state") {
			t.Errorf("%s logout: after the provider the browser is at %s (%d), want /bye with the state", method, end.URL.Path, end.Status)
		}
		logouts := e.idp.Logouts()
		if len(logouts) != i+1 {
			t.Fatalf("%s logout: the provider recorded %d logouts, want %d", method, len(logouts), i+1)
		}
		if got := logouts[i]; got.ClientID != demoidp.DefaultClientID || got.PostLogoutRedirectURI != postLogout || got.IDTokenHintValid {
			t.Errorf("%s logout: the provider recorded %+v, want client %s, %s and no id_token_hint", method, got, demoidp.DefaultClientID, postLogout)
		}
		if status, _ := b.userinfo(); status != http.StatusUnauthorized {
			t.Errorf("%s logout: userinfo afterwards %d, want 401", method, status)
		}
	}
}

// TestRedTeamLogoutIDTokenHintOnlyWhereNotABearer: `logout_id_token_hint`
// sends the ID token to the end_session_endpoint, which is only safe when
// this gateway refuses that token as a bearer credential. It is refused at
// load while the provider accepts its ID tokens (default token_types and
// audiences); with `token_types at+jwt` (or an API audience) it loads, the
// provider gets a valid hint, and the hinted token gets 401 here.
func TestRedTeamLogoutIDTokenHintOnlyWhereNotABearer(t *testing.T) {
	cfg := func(provider string) string {
		return "{\n\tadmin off\n\tedgeauth {\n\t\tprovider corp {\n\t\t\tissuer https://idp.example.com\n\t\t\tclient_id gw\n\t\t\tclient_secret s3cret\n\t\t\tscopes openid\n" + provider +
			"\n\t\t}\n\t\tsession {\n\t\t\tsecret " + secretNew + "\n\t\t}\n\t}\n}\nhttp://127.0.0.1:9 {\n\tedgeauth corp {\n\t\tlogin {\n\t\t\tlogout_id_token_hint\n\t\t}\n\t}\n\trespond \"unreachable\"\n}\n"
	}
	for _, bearer := range []string{"", "token_types JWT at+jwt", "token_types absent", "audiences api gw"} {
		got := loadError(t, cfg(bearer))
		if !strings.Contains(got, "logout_id_token_hint") || !strings.Contains(got, "token_types at+jwt") {
			t.Errorf("provider %q: logout_id_token_hint loaded with %q; want it refused (ID tokens pass as bearer tokens)", bearer, got)
		}
	}
	for _, bearer := range []string{"token_types at+jwt", "audiences https://api.example.com"} {
		if got := loadError(t, cfg(bearer)); got != "" {
			t.Errorf("provider %q: logout_id_token_hint refused: %s", bearer, got)
		}
	}

	e := newEnv(t, demoidp.Options{AutoApprove: true})
	postLogout := fmt.Sprintf("http://127.0.0.1:%d/bye", e.port)
	e.start(e.loginConfig(loginOpts{
		providerExtra: []string{"token_types at+jwt"},
		login:         "param login_hint alice\n\t\t\tpost_logout_redirect_uri " + postLogout + "\n\t\t\tlogout_id_token_hint",
		rules:         "\t\tpublic /bye\n",
	}))
	// Ready once an at+jwt access token passes (the JWT-typed probe of
	// waitReady is refused here, as it should be).
	at := e.aliceToken(demoidp.WithHeader("typ", "at+jwt"))
	waitFor(t, "the provider's metadata and keys", 10*time.Second, func() bool {
		resp, _ := e.get("/", at)
		return resp.StatusCode == http.StatusOK
	})
	if resp, _ := e.get("/", e.aliceToken()); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a JWT-typed token with token_types at+jwt: %d, want 401", resp.StatusCode)
	}
	b := e.newCookieClient("")
	b.login("/")
	h := b.do(http.MethodGet, e.url("/oauth2/logout"), nil, "Sec-Fetch-Site: same-origin")
	if h.Status != http.StatusFound || !strings.HasPrefix(h.Location, e.idp.Issuer()+demoidp.PathLogout) {
		t.Fatalf("logout: %d → %q, want 302 to the end_session_endpoint", h.Status, redactURL(h.Location))
	}
	loc, _ := url.Parse(h.Location)
	hint := loc.Query().Get("id_token_hint")
	if hint == "" {
		t.Fatal("logout_id_token_hint is set but the logout URL has no id_token_hint")
	}
	if resp, body := e.get("/", hint, "Accept: application/json"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the hinted ID token as a bearer token: %d, want 401; %.200s", resp.StatusCode, body)
	}
	end := last(b.navigate(h.Location))
	if end.URL.Path != "/bye" || end.Status != http.StatusOK {
		t.Errorf("after the provider's logout the browser is at %s (%d), want /bye", end.URL.Path, end.Status)
	}
	if l := e.idp.Logouts(); len(l) != 1 || !l[0].IDTokenHintValid || l[0].Subject != "2000000000000002" {
		t.Errorf("the provider recorded %+v, want one logout with alice's valid id_token_hint", l)
	}
}
