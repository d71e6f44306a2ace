package integration

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// allowListBody is an oauth2-proxy style allow-list: staff by domain (and
// its subdomains) plus one partner address on /wiki, a domain whose
// provider never states email_verified on /legacy, groups on /ops, a
// dropped groups header on /quiet and a public area.
const allowListBody = `		public /public/*
		claim /wiki/* email *@example.com *@*.example.com Partner@Other.org
		claim /legacy/* email *@legacy.example {
			allow_unverified_email
		}
		claim /ops/* groups ops-* admins "Domain Admins"
		decision_log_level info`

// startAllowList starts the demo provider and Caddy with allowListBody, the
// decision log written to a file, and waits for the provider's keys.
func startAllowList(t *testing.T) (*env, string) {
	t.Helper()
	e := newEnv(t, demoidp.Options{})
	logFile := writeFile(t, "caddy.log", "")
	e.logOpts = []string{"output file " + logFile, "level INFO"}
	e.start(e.globals(e.providerBlock("demo")) + e.site("edgeauth demo", allowListBody))
	probe := e.mint(map[string]any{"sub": "probe"})
	waitFor(t, "the provider's keys", 10*time.Second, func() bool {
		resp, _ := e.get("/", probe)
		return resp.StatusCode == http.StatusOK
	})
	return e, logFile
}

// TestAllowListEmailDomains: `claim … email *@example.com` through real Caddy
// with tokens from the demo provider: the verified staff address passes in
// any ASCII case, and every trick an attacker could put in a token they can
// obtain is refused with 403 access_denied.
func TestAllowListEmailDomains(t *testing.T) {
	e, logFile := startAllowList(t)
	verified := func(email any) string {
		return e.mint(map[string]any{"sub": "u1", "email": email, "email_verified": true})
	}

	for _, addr := range []string{"a@example.com", "A@EXAMPLE.COM", "a@eu.example.com", "partner@other.org", "PARTNER@other.ORG"} {
		got := e.upstreamSaw(e.get("/wiki/page", verified(addr)))
		if got.header("X-Auth-Email") != addr {
			t.Errorf("%s: X-Auth-Email = %q", addr, got.header("X-Auth-Email"))
		}
	}
	// email_verified as the string "true" (Cognito's userinfo style).
	e.upstreamSaw(e.get("/wiki/page", e.mint(map[string]any{"sub": "u1", "email": "a@example.com", "email_verified": "true"})))

	refused := map[string]any{
		"second @":                 "a@example.com@evil.com",
		"NUL-joined":               "a@evil.com\u0000@example.com",
		"CRLF-joined":              "a@evil.com\r\n@example.com",
		"subdomain-looking suffix": "a@example.com.evil.com",
		"no dot before the domain": "a@evilexample.com",
		"trailing dot":             "a@example.com.",
		"Cyrillic a":               "a@ex\u0430mple.com",
		"full-width at sign":       "a\uff20example.com",
		"zero-width space":         "a@example.com\u200b",
		"other partner address":    "boss@other.org",
		"array of addresses":       []any{"a@example.com", "b@example.com"},
		"array of one address":     []any{"a@example.com"},
		"number":                   42,
		"boolean":                  true,
		"object":                   map[string]any{"value": "a@example.com"},
	}
	for name, email := range refused {
		resp, body := e.get("/wiki/page", verified(email))
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), `"access_denied"`) {
			t.Errorf("%s (%v): status %d %s, want 403 access_denied", name, email, resp.StatusCode, body)
		}
	}
	// A subdomain is another domain: *@example.com alone does not cover it.
	// (The rule also lists *@*.example.com; a token for a.b.example.org is
	// refused by both.)
	resp, body := e.get("/wiki/page", verified("a@sub.example.org"))
	assertError(t, resp, body, http.StatusForbidden, "access_denied")

	// Unverified or unstated verification is refused, with its own detail.
	for _, claims := range []map[string]any{
		{"sub": "unverified", "email": "a@example.com", "email_verified": false},
		{"sub": "unverified", "email": "a@example.com"},
		{"sub": "unverified", "email": "a@example.com", "email_verified": "yes"},
	} {
		resp, body := e.get("/wiki/page", e.mint(claims))
		assertError(t, resp, body, http.StatusForbidden, "access_denied")
	}

	// A rule that allows unverified addresses still checks the domain.
	e.upstreamSaw(e.get("/legacy/x", e.mint(map[string]any{"sub": "old", "email": "a@legacy.example"})))
	resp, body = e.get("/legacy/x", e.mint(map[string]any{"sub": "old", "email": "a@example.com"}))
	assertError(t, resp, body, http.StatusForbidden, "access_denied")
	resp, body = e.get("/legacy/x", e.mint(map[string]any{"sub": "old", "email": "a@legacy.example@evil.com"}))
	assertError(t, resp, body, http.StatusForbidden, "access_denied")

	// The decision log says why: email_unverified, email_malformed.
	_ = caddy.Stop() // flush the log file
	raw, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	details := map[string]int{}
	for _, line := range strings.Split(string(raw), "\n") {
		var entry struct {
			Msg    string `json:"msg"`
			Reason string `json:"reason"`
			Detail string `json:"detail"`
		}
		if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "decision" && entry.Reason == "claim_mismatch" {
			details[entry.Detail]++
		}
		if strings.Contains(line, "evil.com") {
			t.Errorf("the log holds a claim value: %s", line)
		}
	}
	if details["email_unverified"] != 3 {
		t.Errorf("decision lines with detail email_unverified: %d, want 3 (%v)", details["email_unverified"], details)
	}
	if details["email_malformed"] < 9 {
		t.Errorf("decision lines with detail email_malformed: %d, want at least 9 (%v)", details["email_malformed"], details)
	}
}

// TestAllowListGroups: `claim … groups` matches any element of the array,
// exactly or by pattern, and a group name with a space as a whole; the
// upstream gets X-Auth-Groups joined by one space.
func TestAllowListGroups(t *testing.T) {
	e, _ := startAllowList(t)
	groups := func(g any) string { return e.mint(map[string]any{"sub": "g", "groups": g}) }

	for _, g := range []any{
		[]any{"dev", "admins"},
		[]any{"ops-eu"},
		[]any{"Domain Admins", "dev"},
		"admins",
	} {
		e.upstreamSaw(e.get("/ops/x", groups(g)))
	}
	for _, g := range []any{
		[]any{"dev"},
		[]any{"Admins"},           // case matters for groups
		[]any{"Domain", "Admins"}, // not the group "Domain Admins"
		"dev admins",              // one string is one value
		[]any{"admins\u0000"},
		[]any{"ops-\r\n"},
		[]any{"admins", map[string]any{"x": 1}}, // an array holding an object matches nothing
		[]any{},
	} {
		resp, body := e.get("/ops/x", groups(g))
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), `"access_denied"`) {
			t.Errorf("groups %#v: status %d %s, want 403 access_denied", g, resp.StatusCode, body)
		}
	}

	got := e.upstreamSaw(e.get("/ops/x", groups([]any{"admins", "Domain Admins", 7, true})))
	if h := got.header("X-Auth-Groups"); h != "admins Domain Admins 7 true" {
		t.Errorf("X-Auth-Groups = %q, want the elements joined by one space", h)
	}
	if got.header("X-Auth-Subject") != "g" {
		t.Errorf("X-Auth-Subject = %q", got.header("X-Auth-Subject"))
	}
}

// TestGroupsHeaderStripped: a client's X-Auth-Groups, in any spelling, never
// reaches the upstream, on protected and public routes, with and without a
// groups claim; `header -X-Auth-Groups` stops the header but not the
// stripping.
func TestGroupsHeaderStripped(t *testing.T) {
	e := newEnv(t, demoidp.Options{})
	e.start(e.globals(e.providerBlock("demo")) + e.site("edgeauth demo", `		public /public/*
		header -X-Auth-Groups`) + strings.Replace(e.site("edgeauth demo", "\t\tpublic /public/*"), "127.0.0.1", "localhost", 1))
	withGroups := e.mint(map[string]any{"sub": "g", "groups": []any{"dev"}})
	noGroups := e.mint(map[string]any{"sub": "g"})
	waitFor(t, "the provider's keys", 10*time.Second, func() bool {
		resp, _ := e.get("/", noGroups)
		return resp.StatusCode == http.StatusOK
	})
	forged := []string{"X-Auth-Groups: admins", "x-auth-groups: admins", "X_Auth_Groups: admins", "X.Auth.Groups: admins"}

	// Default headers (the localhost site): the claim's value replaces the
	// forged ones; without the claim, no header at all.
	local := func(path, tok string) echo {
		req, err := http.NewRequest(http.MethodGet, e.url(path), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = strings.Replace(req.Host, "127.0.0.1", "localhost", 1)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		for _, f := range forged {
			name, value, _ := strings.Cut(f, ":")
			req.Header[name] = append(req.Header[name], strings.TrimSpace(value))
		}
		return e.upstreamSaw(e.do(req))
	}
	if got := local("/x", withGroups); got.header("X-Auth-Groups") != "dev" || countGroups(got) != 1 {
		t.Errorf("with groups: upstream saw %v", got.Headers)
	}
	if got := local("/x", noGroups); countGroups(got) != 0 {
		t.Errorf("without a groups claim: upstream saw %v", got.Headers)
	}
	if got := local("/public/x", ""); countGroups(got) != 0 {
		t.Errorf("public route: upstream saw %v", got.Headers)
	}

	// `header -X-Auth-Groups` (the 127.0.0.1 site): no header from the
	// claim, and the client's copies are still deleted.
	for _, path := range []string{"/x", "/public/x"} {
		got := e.upstreamSaw(e.get(path, withGroups, forged...))
		if countGroups(got) != 0 {
			t.Errorf("header -X-Auth-Groups, %s: upstream saw %v", path, got.Headers)
		}
		if path == "/x" && got.header("X-Auth-Subject") != "g" {
			t.Errorf("X-Auth-Subject = %q", got.header("X-Auth-Subject"))
		}
	}
}

// countGroups counts the headers the upstream saw that read as
// X-Auth-Groups to a CGI-style backend ('_' and '.' for '-', any case).
func countGroups(got echo) int {
	n := 0
	for k, v := range got.Headers {
		norm := strings.NewReplacer("_", "-", ".", "-").Replace(strings.ToLower(k))
		if norm == "x-auth-groups" {
			n += len(v)
		}
	}
	return n
}

// TestClaimPatternErrorsAtLoad: a JSON config (as pushed to the admin API)
// with a bad pattern is refused at load with an error that names the rule.
func TestClaimPatternErrorsAtLoad(t *testing.T) {
	e := newEnv(t, demoidp.Options{})
	good := string(adapt(t, e.globals(e.providerBlock("demo"))+e.site("edgeauth demo", "\t\tclaim /wiki/* email *@example.com")))
	for bad, want := range map[string]string{
		`"example.com"`:    "claim /wiki/* email: `example.com` is not an e-mail pattern: it needs an @, e.g. *@example.com",
		`"a@b@c"`:          "more than one @",
		`"*@example.com."`: "ends with a dot",
		`"*@example.*"`:    "a wildcard elsewhere would also match domains you do not own",
	} {
		cfg := strings.Replace(good, `"*@example.com"`, bad, 1)
		if cfg == good {
			t.Fatal("the adapted config has no value to replace")
		}
		var c caddy.Config
		if err := json.Unmarshal([]byte(cfg), &c); err != nil {
			t.Fatal(err)
		}
		err := caddy.Validate(&c)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("value %s: load error %v, want one containing %q", bad, err, want)
		}
	}
	groups := strings.Replace(good, `"claim":"email"`, `"claim":"groups"`, 1)
	groups = strings.Replace(groups, `"*@example.com"`, `"DOMAIN\\Admins"`, 1)
	var c caddy.Config
	if err := json.Unmarshal([]byte(groups), &c); err != nil {
		t.Fatal(err)
	}
	if err := caddy.Validate(&c); err == nil || !strings.Contains(err.Error(), "claim /wiki/* groups: `DOMAIN\\Admins`: a backslash escapes only") {
		t.Errorf("groups DOMAIN\\Admins: load error %v", err)
	}
}
