package policy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// testConfig is the example of docs/CONTRACT.md plus overlapping rules.
var testConfig = Config{
	Public: []string{"/*", "/healthz", "/static/*"},
	Scopes: []ScopeRule{
		{Paths: []string{"/dns/*"}, Scopes: []string{"/acs/alidns"}},
		{Paths: []string{"/admin/*"}, Scopes: []string{"profile", "aliuid", "profile"}},
		{Paths: []string{"/admin/reports/*", "/reports"}, Scopes: []string{"reports", "aliuid"}},
		{Paths: []string{"/API/V1/*"}, Scopes: []string{"api"}},
	},
	Claims: []ClaimRule{
		{Paths: []string{"/billing/*"}, Claim: "type", Values: []string{"account"}},
		{Paths: []string{"/admin/reports/*"}, Claim: "groups", Values: []string{"auditors", "admins"}},
	},
}

func mustNew(t testing.TB, cfg Config) *Policy {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

// withReplacer gives r the replacer that Caddy's server puts in every request.
func withReplacer(r *http.Request) *http.Request {
	caddyhttp.NewTestReplacer(r)
	return r
}

// routeMatcher returns Caddy's own path matcher, configured with patterns
// and provisioned as a route's would be.
func routeMatcher(t testing.TB, patterns ...string) caddyhttp.MatchPath {
	t.Helper()
	m := caddyhttp.MatchPath(slices.Clone(patterns))
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if err := m.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	return m
}

// route reports whether Caddy's route on patterns matches r.
func route(t testing.TB, r *http.Request, patterns ...string) bool {
	t.Helper()
	return routeMatcher(t, patterns...).Match(r)
}

func TestRulesOverlap(t *testing.T) {
	p := mustNew(t, testConfig)
	tests := []struct {
		target string
		public bool
		scopes string
		claims string
	}{
		{"/", true, "", ""},
		{"/anything/else", true, "", ""},
		{"/healthz", true, "", ""},
		{"/dns/records", false, "/acs/alidns", ""},
		{"/admin/users", false, "profile aliuid", ""},
		{"/admin/reports/q1", false, "profile aliuid reports", "groups"},
		{"/reports", false, "reports aliuid", ""},
		{"/billing/invoices", false, "", "type"},
		{"/api/v1/things", false, "api", ""},
		{"/admin", false, "profile aliuid", ""}, // a rule on "/admin/*" covers "/admin" too
	}
	for _, tt := range tests {
		r := withReplacer(httptest.NewRequest("GET", tt.target, nil))
		q := p.Evaluate(r)
		var claims []string
		for _, c := range q.Claims {
			claims = append(claims, c.Claim)
		}
		if q.Public != tt.public || strings.Join(q.Scopes, " ") != tt.scopes || strings.Join(claims, " ") != tt.claims {
			t.Errorf("%s: got public=%v scopes=%q claims=%q; want public=%v scopes=%q claims=%q",
				tt.target, q.Public, q.Scopes, claims, tt.public, tt.scopes, tt.claims)
		}
	}
}

func TestNoPublicRule(t *testing.T) {
	p := mustNew(t, Config{Scopes: []ScopeRule{{Paths: []string{"/admin", "/admin/*"}, Scopes: []string{"admin"}}}})
	for target, want := range map[string]string{"/admin": "admin", "/admin/": "admin", "/x": ""} {
		q := p.Evaluate(withReplacer(httptest.NewRequest("GET", target, nil)))
		if q.Public || strings.Join(q.Scopes, " ") != want {
			t.Errorf("%s: public=%v scopes=%q, want scopes=%q", target, q.Public, q.Scopes, want)
		}
	}
}

func TestEvaluateWithoutReplacer(t *testing.T) {
	p := mustNew(t, testConfig)
	q := p.Evaluate(httptest.NewRequest("GET", "/admin/x", nil))
	if q.Public || len(q.Scopes) != 2 {
		t.Errorf("without a replacer in the context: %+v", q)
	}
}

// pathTricks are request targets that try to reach /admin/* through a public
// rule or to dodge the admin rule; wantAdmin is what Caddy's route for
// /admin/* does with them.
var pathTricks = []struct {
	target    string
	wantAdmin bool
}{
	{"/admin/x", true},
	{"/public/../admin/x", true},
	{"/public/%2e%2e/admin/x", true},
	{"/public/%2E%2E/admin/x", true},
	{"/static/../../admin/x", true},
	{"//admin/x", true},
	{"///admin//x", true},
	{"/ADMIN/x", true},
	{"/Admin/X", true},
	{"/admin%2Fx", true},
	{"/admin%2fx", true},
	{"/%61dmin/x", true},
	{"/./admin/x", true},
	{"/admin/./x", true},
	{"/admin/x/", true},
	{"/admin/", true},
	{"/admin/x?next=/public/", true},
	{"/admin", true},
	{"/ADMIN", true},
	{"/adminx", false},
	{"/admin.", false},
	{"/public/admin/x", false},
	{"/static/x?/admin/", false},
}

func TestPathTricks(t *testing.T) {
	p := mustNew(t, Config{
		Public: []string{"/*", "/public/*", "/static/*"},
		Scopes: []ScopeRule{{Paths: []string{"/admin/*"}, Scopes: []string{"admin"}}},
	})
	for _, tt := range pathTricks {
		r := withReplacer(httptest.NewRequest("GET", tt.target, nil))
		caddySays := route(t, r, withBases([]string{"/admin/*"})...)
		if caddySays != tt.wantAdmin {
			t.Errorf("%s: Caddy's route /admin/* matches=%v, test expects %v (path %q raw %q)", tt.target, caddySays, tt.wantAdmin, r.URL.Path, r.URL.RawPath)
		}
		q := p.Evaluate(r)
		if got := slices.Contains(q.Scopes, "admin"); got != caddySays || q.Public == caddySays {
			t.Errorf("%s: policy public=%v scopes=%q, but Caddy's route /admin/* matches=%v", tt.target, q.Public, q.Scopes, caddySays)
		}
	}
}

// TestPathTricksOverHTTP sends the tricks as raw request lines to a real
// server, so that the request is parsed exactly as Go's server (and so Caddy)
// parses it, RawPath included.
func TestPathTricksOverHTTP(t *testing.T) {
	p := mustNew(t, Config{
		Public: []string{"/*"},
		Scopes: []ScopeRule{{Paths: []string{"/admin/*"}, Scopes: []string{"admin"}}},
	})
	adminRoute := routeMatcher(t, withBases([]string{"/admin/*"})...)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		withReplacer(r)
		caddySays := adminRoute.Match(r)
		q := p.Evaluate(r)
		switch {
		case q.Public == caddySays:
			w.WriteHeader(http.StatusConflict)
		case q.Public:
			w.WriteHeader(http.StatusOK)
		default:
			w.WriteHeader(http.StatusForbidden)
		}
	}))
	defer srv.Close()
	for _, tt := range pathTricks {
		code := rawGet(t, srv.Listener.Addr().String(), tt.target)
		want := http.StatusOK
		if tt.wantAdmin {
			want = http.StatusForbidden
		}
		if code != want {
			t.Errorf("GET %s over HTTP: status %d, want %d (409: policy and Caddy's route disagree)", tt.target, code, want)
		}
	}
}

func TestRawPathSetByHand(t *testing.T) {
	p := mustNew(t, Config{Public: []string{"/public/*"}, Scopes: []ScopeRule{{Paths: []string{"/admin/*"}, Scopes: []string{"admin"}}}})
	r := withReplacer(httptest.NewRequest("GET", "/", nil))
	r.URL = &url.URL{Path: "/public/../admin/x", RawPath: "/public/%2e%2e/admin/x"}
	if q := p.Evaluate(r); q.Public || !slices.Equal(q.Scopes, []string{"admin"}) {
		t.Errorf("encoded dot segments: %+v", q)
	}
	r.URL = &url.URL{Path: "/admin/x", RawPath: "/admin%2Fx"}
	if q := p.Evaluate(r); q.Public || !slices.Equal(q.Scopes, []string{"admin"}) {
		t.Errorf("encoded slash: %+v", q)
	}
}

func TestTrailingSlashAndExactPublic(t *testing.T) {
	p := mustNew(t, Config{Public: []string{"/healthz"}, Scopes: []ScopeRule{{Paths: []string{"/admin/*"}, Scopes: []string{"admin"}}}})
	for target, want := range map[string]bool{"/healthz": true, "/HEALTHZ": true, "/healthz/": false, "/healthz/x": false, "//healthz": true, "/x/../healthz": true} {
		r := withReplacer(httptest.NewRequest("GET", target, nil))
		if got := p.Evaluate(r).Public; got != want || got != route(t, r, "/healthz") {
			t.Errorf("%s: public=%v, want %v (Caddy: %v)", target, got, want, route(t, r, "/healthz"))
		}
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{Scopes: []ScopeRule{{Paths: []string{"/admin/*"}}}}, "scope /admin/*: needs at least one scope"},
		{Config{Scopes: []ScopeRule{{Paths: []string{"/admin/*"}, Scopes: []string{""}}}}, `scope /admin/*: scope "" is not a valid scope token`},
		{Config{Scopes: []ScopeRule{{Paths: []string{"/a"}, Scopes: []string{"a b"}}}}, `scope "a b" is not a valid scope token`},
		{Config{Scopes: []ScopeRule{{Scopes: []string{"profile"}}}}, `scope rule for "profile": needs at least one path`},
		{Config{Scopes: []ScopeRule{{Paths: []string{"/admin"}, Scopes: []string{"/admin/*", "profile"}}}}, `scope /admin: scope "/admin/*" looks like a path pattern`},
		{Config{Scopes: []ScopeRule{{Paths: []string{"admin/*"}, Scopes: []string{"x"}}}}, `scope admin/*: path pattern "admin/*" must start with / or *, e.g. /admin/*`},
		{Config{Scopes: []ScopeRule{{Paths: []string{"/a", ""}, Scopes: []string{"x"}}}}, "scope /a : empty path pattern"},
		{Config{Scopes: []ScopeRule{{Paths: []string{"/{http.request.header.X}/*"}, Scopes: []string{"x"}}}}, "has a placeholder"},
		{Config{Public: []string{"healthz"}}, `public healthz: path pattern "healthz" must start with / or *`},
		{Config{Claims: []ClaimRule{{Paths: []string{"/billing/*"}, Values: []string{"account"}}}}, "claim /billing/*: needs a claim name"},
		{Config{Claims: []ClaimRule{{Paths: []string{"/billing/*"}, Claim: "type"}}}, "claim /billing/* type: needs at least one value"},
		{Config{Claims: []ClaimRule{{Claim: "type", Values: []string{"x"}}}}, `claim rule for "type": needs at least one path`},
		{Config{Claims: []ClaimRule{{Paths: []string{"/x"}, Claim: "org..role", Values: []string{"a"}}}}, `claim /x: claim path "org..role" has an empty name`},
		{Config{Claims: []ClaimRule{{Paths: []string{"/x"}, Claim: "org.", Values: []string{"a"}}}}, `claim path "org." has an empty name`},
	}
	for _, tt := range tests {
		_, err := New(tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) error = %v, want it to contain %q", tt.cfg, err, tt.want)
		}
	}
}

func TestNewDoesNotModifyConfig(t *testing.T) {
	cfg := Config{Public: []string{"/A", "*"}, Scopes: []ScopeRule{{Paths: []string{"/Admin/*"}, Scopes: []string{"x"}}}}
	mustNew(t, cfg)
	if cfg.Public[0] != "/A" || cfg.Public[1] != "*" || cfg.Scopes[0].Paths[0] != "/Admin/*" {
		t.Errorf("config modified: %+v", cfg)
	}
}

func TestEvaluateAllocations(t *testing.T) {
	p := mustNew(t, testConfig)
	for _, target := range []string{"/static/app.js", "/admin/users", "/billing/x"} {
		r := withReplacer(httptest.NewRequest("GET", target, nil))
		allocs := testing.AllocsPerRun(100, func() { p.Evaluate(r) })
		if allocs != 0 {
			t.Errorf("Evaluate(%s) allocated %v times", target, allocs)
		}
	}
}

// FuzzEvaluate checks the core invariant on arbitrary paths: if Caddy's
// matcher for any scope or claim rule matches, the request is not public and
// carries that rule's requirement; and only such rules add requirements.
func FuzzEvaluate(f *testing.F) {
	for _, tt := range pathTricks {
		f.Add(tt.target)
	}
	f.Add("/%zz/admin")
	f.Add("/admin\\x")
	f.Add("/billing/%2e%2e/admin/reports/x")
	p := mustNew(f, testConfig)
	type ref struct {
		m      caddyhttp.MatchPath
		scopes []string
		claim  string
	}
	var refs []ref
	for _, r := range testConfig.Scopes {
		refs = append(refs, ref{m: routeMatcher(f, withBases(r.Paths)...), scopes: r.Scopes})
	}
	for _, r := range testConfig.Claims {
		refs = append(refs, ref{m: routeMatcher(f, withBases(r.Paths)...), claim: r.Claim})
	}
	f.Fuzz(func(t *testing.T, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			u = &url.URL{Path: target}
		}
		r := withReplacer(httptest.NewRequest("GET", "/", nil))
		r.URL = u
		q := p.Evaluate(r)
		anyRule := false
		for _, rf := range refs {
			if !rf.m.Match(r) {
				continue
			}
			anyRule = true
			if q.Public {
				t.Fatalf("%q (path %q): rule %v matches but the request is public", target, u.Path, rf.m)
			}
			for _, s := range rf.scopes {
				if !slices.Contains(q.Scopes, s) {
					t.Fatalf("%q: rule %v matches but scope %s is not required (%v)", target, rf.m, s, q.Scopes)
				}
			}
			if rf.claim != "" && !slices.ContainsFunc(q.Claims, func(c ClaimRule) bool { return c.Claim == rf.claim }) {
				t.Fatalf("%q: claim rule %v matches but is not required", target, rf.m)
			}
		}
		if !anyRule && (len(q.Scopes) > 0 || len(q.Claims) > 0) {
			t.Fatalf("%q: requirement %+v without a matching rule", target, q)
		}
	})
}

func BenchmarkEvaluate(b *testing.B) {
	p := mustNew(b, testConfig)
	reqs := []*http.Request{
		withReplacer(httptest.NewRequest("GET", "/static/app.js", nil)),
		withReplacer(httptest.NewRequest("GET", "/admin/users", nil)),
		withReplacer(httptest.NewRequest("GET", "/admin/reports/q1", nil)),
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p.Evaluate(reqs[i%len(reqs)])
		i++
	}
}

// TestPathParametersDoNotOpenRules: servlet-style backends drop ";params"
// from segments, so /admin;x/users is their /admin/users; a rule for
// /admin/* must hold for it too, although Caddy's matcher alone would not
// match it.
func TestPathParametersDoNotOpenRules(t *testing.T) {
	p, err := New(Config{
		Public: []string{"/*"},
		Scopes: []ScopeRule{{Paths: []string{"/admin/*"}, Scopes: []string{"profile"}}},
		Claims: []ClaimRule{{Paths: []string{"/billing"}, Claim: "type", Values: []string{"account"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/admin;/users", "/admin;jsessionid=1/users", "/ADMIN;x/users", "/billing;x", "/admin%3b/users"} {
		q := p.Evaluate(httptest.NewRequest(http.MethodGet, path, nil))
		if q.Public || (len(q.Scopes) == 0 && len(q.Claims) == 0) {
			t.Errorf("%s: requirement %+v, want the protected rule", path, q)
		}
	}
	if q := p.Evaluate(httptest.NewRequest(http.MethodGet, "/docs;v=1/intro", nil)); !q.Public {
		t.Errorf("a path parameter elsewhere must not close a public path: %+v", q)
	}
}

// TestPrefixRuleCoversItsBase: `scope /dns/* …` also covers /dns itself,
// in any case and with a servlet ;param, as upstreams that serve /dns with
// the /dns/ handler read it (red team F10); public patterns are not widened.
func TestPrefixRuleCoversItsBase(t *testing.T) {
	p := mustNew(t, Config{
		Public: []string{"/static/*"},
		Scopes: []ScopeRule{{Paths: []string{"/dns/*"}, Scopes: []string{"/acs/alidns"}}},
		Claims: []ClaimRule{{Paths: []string{"/billing/*"}, Claim: "type", Values: []string{"account"}}},
	})
	for _, target := range []string{"/dns", "/DNS", "/dns;x", "/dns/", "/dns/records"} {
		if q := p.Evaluate(withReplacer(httptest.NewRequest("GET", target, nil))); q.Public || !slices.Contains(q.Scopes, "/acs/alidns") {
			t.Errorf("%s: %+v, want the /dns/* scope", target, q)
		}
	}
	if q := p.Evaluate(withReplacer(httptest.NewRequest("GET", "/billing", nil))); len(q.Claims) != 1 {
		t.Errorf("/billing: %+v, want the /billing/* claim rule", q)
	}
	if q := p.Evaluate(withReplacer(httptest.NewRequest("GET", "/static", nil))); q.Public {
		t.Error("/static became public: public patterns must not be widened")
	}
	if q := p.Evaluate(withReplacer(httptest.NewRequest("GET", "/dnsx", nil))); slices.Contains(q.Scopes, "/acs/alidns") {
		t.Error("/dnsx is not under /dns/")
	}
}
