package edgeauth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/edgeauth/caddy-edgeauth/module/decision"
	"github.com/edgeauth/caddy-edgeauth/module/policy"
)

// matchIs is a matcher with a fixed answer.
type matchIs bool

func (m matchIs) MatchWithError(*http.Request) (bool, error) { return bool(m), nil }

// matchFails is a matcher that errs.
type matchFails struct{}

func (matchFails) MatchWithError(*http.Request) (bool, error) { return false, errors.New("boom") }

// matchStatus matches the {http.error.status_code} placeholder, as the
// Caddyfile's `handle_errors 401 403` does with an expression.
type matchStatus int

func (m matchStatus) MatchWithError(r *http.Request) (bool, error) {
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	v, _ := repl.Get("http.error.status_code")
	code, _ := v.(int)
	return code == int(m), nil
}

func route(m any, terminal bool, handlers ...caddyhttp.MiddlewareHandler) caddyhttp.Route {
	rt := caddyhttp.Route{Terminal: terminal, Handlers: handlers}
	if m != nil {
		rt.MatcherSets = caddyhttp.MatcherSets{{m}}
	}
	return rt
}

func sub(routes ...caddyhttp.Route) *caddyhttp.Subroute {
	return &caddyhttp.Subroute{Routes: routes}
}

func leaf() caddyhttp.MiddlewareHandler { return &caddyhttp.StaticResponse{} }

func TestRoutesTake(t *testing.T) {
	grouped := func(g string, rt caddyhttp.Route) caddyhttp.Route { rt.Group = g; return rt }
	deep := route(nil, false, leaf())
	for range maxErrorRouteDepth + 2 {
		deep = route(nil, false, sub(deep))
	}
	cases := []struct {
		name        string
		routes      caddyhttp.RouteList
		taken, stop bool
	}{
		{"none", nil, false, false},
		{"no match", caddyhttp.RouteList{route(matchIs(false), false, leaf())}, false, false},
		{"match", caddyhttp.RouteList{route(matchIs(true), false, leaf())}, true, true},
		{"no matcher matches all", caddyhttp.RouteList{route(nil, false, leaf())}, true, true},
		// A Caddyfile site's handle_errors: a terminal host route whose
		// subroute has no route for this status ends in an empty body, even
		// with a catch-all after it.
		{"terminal site route without a status match", caddyhttp.RouteList{
			route(matchIs(true), true, sub(route(matchIs(false), false, sub(route(nil, false, leaf()))))),
			route(nil, false, leaf()),
		}, false, true},
		{"site route with a status match", caddyhttp.RouteList{
			route(matchIs(true), true, sub(route(matchIs(false), false, leaf()), route(matchIs(true), false, sub(route(nil, false, leaf()))))),
		}, true, true},
		{"other site's terminal route", caddyhttp.RouteList{route(matchIs(false), true, leaf())}, false, false},
		{"non-terminal route falls through", caddyhttp.RouteList{
			route(matchIs(true), false, sub(route(matchIs(false), false, leaf()))),
			route(nil, false, leaf()),
		}, true, true},
		{"a terminal route inside a subroute ends everything", caddyhttp.RouteList{
			route(nil, false, sub(route(nil, true, sub()))),
			route(nil, false, leaf()),
		}, false, true},
		{"only the first matching route of a group", caddyhttp.RouteList{
			grouped("g", route(matchIs(true), false, sub(route(matchIs(false), false, leaf())))),
			grouped("g", route(matchIs(true), false, leaf())),
		}, false, false},
		{"group skipped when its first route does not match", caddyhttp.RouteList{
			grouped("g", route(matchIs(false), false, leaf())),
			grouped("g", route(matchIs(true), false, leaf())),
		}, true, true},
		{"a matcher error is Caddy's answer", caddyhttp.RouteList{route(matchFails{}, false, leaf())}, true, true},
		{"too deep to tell is Caddy's answer", caddyhttp.RouteList{deep}, true, true},
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, c := range cases {
		taken, stop := routesTake(c.routes, r, map[string]bool{}, 0)
		if taken != c.taken || stop != c.stop {
			t.Errorf("%s: taken %v stop %v, want %v %v", c.name, taken, stop, c.taken, c.stop)
		}
	}
}

// caddyRequest is a request as Caddy's server prepares it, on a server with
// the given error routes.
func caddyRequest(target string, errorRoutes caddyhttp.RouteList) (*http.Request, *caddy.Replacer) {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	repl := caddy.NewReplacer()
	srv := &caddyhttp.Server{}
	if errorRoutes != nil {
		srv.Errors = &caddyhttp.HTTPErrorConfig{Routes: errorRoutes}
	}
	r = caddyhttp.PrepareRequest(r, repl, httptest.NewRecorder(), srv)
	return r, repl
}

func TestRefuseHandsOverOnlyWhatAnErrorRouteTakes(t *testing.T) {
	forbidden := func(r *http.Request) *denial {
		return forbiddenDenial(r, decision.ReasonInsufficientScope, policy.Decision{Outcome: policy.InsufficientScope, Scopes: []string{"admin"}})
	}
	routes := caddyhttp.RouteList{route(matchStatus(http.StatusForbidden), false, leaf())}

	// An error route for 403: the error goes to Caddy, headers and
	// placeholders set, nothing written.
	r, repl := caddyRequest("http://api.example.com/x", routes)
	w := httptest.NewRecorder()
	err := refuse(w, r, forbidden(r))
	var herr caddyhttp.HandlerError
	if !errors.As(err, &herr) || herr.StatusCode != http.StatusForbidden || herr.Err.Error() != "the token lacks a scope this route needs" {
		t.Fatalf("refuse returned %v, want a 403 HandlerError with the description", err)
	}
	if w.Body.Len() != 0 || w.Header().Get("Content-Type") != "" {
		t.Errorf("refuse wrote %q (%q) although an error route takes it", w.Body, w.Header().Get("Content-Type"))
	}
	if !strings.Contains(w.Header().Get("WWW-Authenticate"), `scope="admin"`) || w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v, want the challenge and no-store", w.Header())
	}
	for k, want := range map[string]string{
		PlaceholderError: "insufficient_scope", PlaceholderErrorDescription: "the token lacks a scope this route needs",
		PlaceholderReason: "insufficient_scope", PlaceholderRequiredScopes: "admin", PlaceholderSTSCode: "",
	} {
		if got, _ := repl.GetString(k); got != want {
			t.Errorf("{%s} = %q, want %q", k, got, want)
		}
	}

	// No route for 401: edgeauth's own body, and Caddy's error
	// placeholders set for the look are gone again.
	r, repl = caddyRequest("http://api.example.com/x", routes)
	w = httptest.NewRecorder()
	if err := refuse(w, r, challengeDenial(r, http.StatusUnauthorized, decision.ReasonNoCredential, challenge{errCode: "unauthorized", description: "authentication required"}, nil)); err != nil {
		t.Fatalf("refuse returned %v, want nil after writing the default", err)
	}
	if w.Code != http.StatusUnauthorized || w.Body.String() != `{"error":"unauthorized","error_description":"authentication required"}`+"\n" {
		t.Errorf("default answer %d %q", w.Code, w.Body)
	}
	if _, ok := repl.Get("http.error.status_code"); ok {
		t.Error("{http.error.status_code} is left set although no error route ran")
	}
	if got, _ := repl.GetString(PlaceholderReason); got != "no_credential" {
		t.Errorf("{%s} = %q", PlaceholderReason, got)
	}

	// Error routes see the URL the client sent, not a rewritten one.
	r, _ = caddyRequest("http://api.example.com/orig", caddyhttp.RouteList{route(caddyhttp.MatchPath{"/orig"}, false, leaf())})
	r.URL.Path = "/rewritten"
	if err := refuse(httptest.NewRecorder(), r, forbidden(r)); err == nil {
		t.Error("an error route on the original path did not take the error")
	}

	// A browser page is the default for a navigation.
	r, _ = caddyRequest("http://api.example.com/x", nil)
	w = httptest.NewRecorder()
	d := forbidden(r)
	d.page = true
	if err := refuse(w, r, d); err != nil || !strings.Contains(w.Body.String(), "the permission admin") || w.Header().Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("browser default: %v %q %q", err, w.Header().Get("Content-Type"), w.Body)
	}

	// Without Caddy's request context (a unit test, another server) the
	// default is written.
	plain := httptest.NewRequest(http.MethodGet, "/", nil).WithContext(context.Background())
	if err := refuse(httptest.NewRecorder(), plain, forbidden(plain)); err != nil {
		t.Errorf("without a server: %v", err)
	}
}

func TestPlaceholderText(t *testing.T) {
	cases := map[string]string{
		"AuthenticationFail.NoPermission":             "AuthenticationFail.NoPermission",
		"98207FF3-DE6C-B5FE-B27E-C341CFDA31FB":        "98207FF3-DE6C-B5FE-B27E-C341CFDA31FB",
		"the caller's claims do not allow this route": "the caller's claims do not allow this route",
		"a\r\nX-Evil: 1<script>\"&`\\\x00\x7fé":       "aX-Evil: 1script",
		strings.Repeat("x", 400):                      strings.Repeat("x", 300),
		"":                                            "",
		"the request path has an encoded slash (%2F)": "the request path has an encoded slash (%2F)",
	}
	for in, want := range cases {
		if got := placeholderText(in); got != want {
			t.Errorf("placeholderText(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestIdentifierText: STS codes and request IDs keep only identifier
// characters, so an STS answer cannot put braces (template actions), quotes
// or markup into an operator's error page (second red-team pass).
func TestIdentifierText(t *testing.T) {
	for in, want := range map[string]string{
		"AuthenticationFail.OIDCToken.Expired": "AuthenticationFail.OIDCToken.Expired",
		"3D57EAD2-0000-0000-0000-000000000000": "3D57EAD2-0000-0000-0000-000000000000",
		"{{.}}":                                ".",
		`R1"<img src=x>{{env "X"}}`:            "R1imgsrcxenvX",
		strings.Repeat("a", 300):               strings.Repeat("a", 128),
	} {
		if got := identifierText(in); got != want {
			t.Errorf("identifierText(%q) = %q, want %q", in, got, want)
		}
	}
}
