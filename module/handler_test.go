package edgeauth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/golang-jwt/jwt/v5"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
	"github.com/edgeauth/caddy-edgeauth/module/policy"
)

// Unit tests of Handler.ServeHTTP: a real handler provisioned in a real
// Caddy context against a real OpenID provider on loopback (discovery and
// JWKS served by demoidp), called directly with httptest requests, so a
// change of the pipeline can be checked without the integration package.

// testIssuer is the test OpenID provider (demoidp) on loopback.
type testIssuer struct {
	idp *demoidp.Server
}

func newTestIssuer(t *testing.T) *testIssuer {
	t.Helper()
	return &testIssuer{idp: demoidp.ForTest(t, demoidp.Options{PlainHTTP: true})}
}

// mint signs a token for audience "api" and subject alice with the given
// extra claims; demoidp adds iss, iat and exp (in an hour).
func (iss *testIssuer) mint(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	c := jwt.MapClaims{"aud": "api", "sub": "alice"}
	for k, v := range claims {
		c[k] = v
	}
	return iss.idp.MintForTest(t, c)
}

// provisionHandler provisions h in a Caddy context whose edgeauth app has one
// provider, corp, for iss, and waits until the provider's keys are loaded.
func provisionHandler(t *testing.T, iss *testIssuer, h *Handler) {
	t.Helper()
	appJSON, _ := json.Marshal(App{Providers: map[string]*ProviderConfig{"corp": {Issuer: iss.idp.Issuer(), Audiences: []string{"api"}}}})
	ctx, err := caddy.ProvisionContext(&caddy.Config{AppsRaw: caddy.ModuleMap{"edgeauth": appJSON}})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	app := h.bearer.app
	t.Cleanup(func() { _ = app.Cleanup() })
	if err := app.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for app.providers["corp"].remote.Status().KeysLoaded == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the provider's keys did not load")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// served is what one ServeHTTP call did.
type served struct {
	rec      *httptest.ResponseRecorder
	upstream http.Header // the request the next handler got; nil when not called
}

func serve(t *testing.T, h *Handler, r *http.Request) served {
	t.Helper()
	repl := caddy.NewReplacer()
	r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl))
	var out served
	out.rec = httptest.NewRecorder()
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		out.upstream = r.Header.Clone()
		w.WriteHeader(http.StatusOK)
		return nil
	})
	if err := h.ServeHTTP(out.rec, r, next); err != nil {
		// A refusal with no error route is written by the handler itself;
		// an error here is one Caddy would turn into a status.
		var he caddyhttp.HandlerError
		if !asHandlerError(err, &he) {
			t.Fatalf("ServeHTTP: %v", err)
		}
		out.rec.WriteHeader(he.StatusCode)
	}
	return out
}

func asHandlerError(err error, he *caddyhttp.HandlerError) bool {
	h, ok := err.(caddyhttp.HandlerError)
	if ok {
		*he = h
	}
	return ok
}

func TestServeHTTPPipeline(t *testing.T) {
	iss := newTestIssuer(t)
	h := &Handler{
		Public: []string{"/public/*"},
		Scopes: []policy.ScopeRule{{Paths: []string{"/admin/*"}, Scopes: []string{"admin"}}},
	}
	provisionHandler(t, iss, h)
	good := iss.mint(t, jwt.MapClaims{"scope": "read", "name": "Alice"})

	t.Run("public path: spoofed identity headers stripped, upstream reached", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/public/x", nil)
		r.Header.Set("X-Auth-Subject", "root")
		r.Header.Set("X_Auth_Name", "root")
		r.Header.Set("X.Auth.Upn", "root")
		got := serve(t, h, r)
		if got.upstream == nil {
			t.Fatalf("upstream not reached: %d %s", got.rec.Code, got.rec.Body)
		}
		for name := range got.upstream {
			if strings.HasPrefix(strings.ToLower(strings.NewReplacer("_", "-", ".", "-").Replace(name)), "x-auth-") {
				t.Errorf("client header %s reached the upstream", name)
			}
		}
	})

	t.Run("no credential: 401 with a Bearer challenge, upstream not reached", func(t *testing.T) {
		got := serve(t, h, httptest.NewRequest(http.MethodGet, "/app", nil))
		if got.rec.Code != http.StatusUnauthorized || got.upstream != nil {
			t.Fatalf("got %d, upstream reached: %v", got.rec.Code, got.upstream != nil)
		}
		if ch := got.rec.Header().Get("WWW-Authenticate"); !strings.HasPrefix(ch, "Bearer realm=") || strings.Contains(ch, "error=") {
			t.Errorf("challenge %q", ch)
		}
	})

	t.Run("valid token: identity replaces the spoofed one", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/app", nil)
		r.Header.Set("Authorization", "Bearer "+good)
		r.Header.Set("X-Auth-Subject", "root")
		r.Header.Set("Connection", "X-Auth-Subject")
		got := serve(t, h, r)
		if got.upstream == nil {
			t.Fatalf("upstream not reached: %d %s", got.rec.Code, got.rec.Body)
		}
		if v := got.upstream.Values("X-Auth-Subject"); len(v) != 1 || v[0] != "alice" {
			t.Errorf("X-Auth-Subject = %q, want [alice]", v)
		}
		if got.upstream.Get("X-Auth-Name") != "Alice" || got.upstream.Get("X-Auth-Scopes") != "read" {
			t.Errorf("identity headers: %v", got.upstream)
		}
		if strings.Contains(strings.ToLower(got.upstream.Get("Connection")), "x-auth-subject") {
			t.Errorf("Connection still names an identity header: %q", got.upstream.Get("Connection"))
		}
	})

	t.Run("bad signature: 401 invalid_token", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/app", nil)
		r.Header.Set("Authorization", "Bearer "+good[:len(good)-4]+"AAAA")
		got := serve(t, h, r)
		if got.rec.Code != http.StatusUnauthorized || got.upstream != nil || !strings.Contains(got.rec.Header().Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Fatalf("got %d %q", got.rec.Code, got.rec.Header().Get("WWW-Authenticate"))
		}
		if strings.Contains(got.rec.Body.String(), good[:20]) {
			t.Error("the body echoes the token")
		}
	})

	t.Run("missing scope: 403 insufficient_scope naming the rule's scope", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/admin/users", nil)
		r.Header.Set("Authorization", "Bearer "+good)
		got := serve(t, h, r)
		if got.rec.Code != http.StatusForbidden || got.upstream != nil || !strings.Contains(got.rec.Header().Get("WWW-Authenticate"), `scope="admin"`) {
			t.Fatalf("got %d %q", got.rec.Code, got.rec.Header().Get("WWW-Authenticate"))
		}
	})

	t.Run("two Authorization headers: 400", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/app", nil)
		r.Header.Add("Authorization", "Bearer "+good)
		r.Header.Add("Authorization", "Bearer "+good)
		if got := serve(t, h, r); got.rec.Code != http.StatusBadRequest || got.upstream != nil {
			t.Fatalf("got %d", got.rec.Code)
		}
	})

	t.Run("a path the rules cannot judge: 400 before anything else", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/public/x", nil)
		r.URL.RawPath = "/public/..%2Fadmin"
		r.URL.Path = "/public/../admin"
		r.Header.Set("Authorization", "Bearer "+good)
		if got := serve(t, h, r); got.rec.Code != http.StatusBadRequest || got.upstream != nil {
			t.Fatalf("got %d", got.rec.Code)
		}
	})
}
