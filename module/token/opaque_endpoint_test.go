package token

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/oidc"
)

// answeringProvider is a provider's two opaque-token endpoints on loopback:
// RFC 7662 introspection (authenticating the client with HTTP Basic) and
// userinfo. It is no OpenID provider (no discovery, keys or tokens: the
// oidc.Provider is given the endpoints as overrides) and stays apart from
// the shared test provider because each token's answer is set by the test,
// including answers a well-behaved provider never gives (another client's
// audience with this client's client_id, an aud array holding a number, a
// subject with control bytes). A token without an answer is inactive.
type answeringProvider struct {
	srv     *httptest.Server
	mu      sync.Mutex
	answers map[string]map[string]any
	calls   atomic.Int32
	// hold, when set, delays every answer until it is closed.
	hold chan struct{}
	// down makes the token endpoints answer 503.
	down atomic.Bool
}

const (
	gwClient = "gw"
	gwSecret = "gw-secret"
)

func startAnsweringProvider(t *testing.T) *answeringProvider {
	t.Helper()
	ap := &answeringProvider{answers: map[string]map[string]any{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/introspect", func(w http.ResponseWriter, r *http.Request) {
		if !ap.begin(w) {
			return
		}
		if id, secret, ok := r.BasicAuth(); !ok || id != gwClient || secret != gwSecret || r.Method != http.MethodPost {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		answer, ok := ap.answer(r.PostFormValue("token"))
		if !ok {
			answer = map[string]any{"active": false}
		} else {
			answer["active"] = true
		}
		_ = json.NewEncoder(w).Encode(answer)
	})
	mux.HandleFunc("/userinfo", func(w http.ResponseWriter, r *http.Request) {
		if !ap.begin(w) {
			return
		}
		answer, ok := ap.answer(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(answer)
	})
	ap.srv = httptest.NewServer(mux)
	t.Cleanup(ap.srv.Close)
	return ap
}

// begin counts a call, holds it while hold is open and answers 503 while
// down; it reports whether the endpoint should answer.
func (ap *answeringProvider) begin(w http.ResponseWriter) bool {
	ap.calls.Add(1)
	if ap.hold != nil {
		<-ap.hold
	}
	if ap.down.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return false
	}
	return true
}

// set makes the provider answer for tok with members (active is added by
// the introspection endpoint).
func (ap *answeringProvider) set(tok string, members map[string]any) {
	ap.mu.Lock()
	defer ap.mu.Unlock()
	ap.answers[tok] = members
}

func (ap *answeringProvider) answer(tok string) (map[string]any, bool) {
	ap.mu.Lock()
	defer ap.mu.Unlock()
	m, ok := ap.answers[tok]
	if !ok {
		return nil, false
	}
	out := make(map[string]any, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out, true
}

// source returns a real oidc.Provider whose opaque-token endpoints are
// ap's (set as overrides, so it needs no discovery; it is never started
// and fetches no keys).
func (ap *answeringProvider) source(t *testing.T) *oidc.Provider {
	t.Helper()
	p, err := oidc.NewProvider(oidc.Config{Issuer: ap.srv.URL, Overrides: oidc.Metadata{
		JWKSURI:               ap.srv.URL + "/keys",
		TokenEndpoint:         ap.srv.URL + "/token",
		IntrospectionEndpoint: ap.srv.URL + "/introspect",
		UserinfoEndpoint:      ap.srv.URL + "/userinfo",
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Destruct() })
	if _, ok := p.Metadata(); !ok {
		t.Fatal("the overrides do not make the provider's endpoints known")
	}
	return p
}

// checker returns a checker of ap's tokens in mode, as gateway client gw.
func (ap *answeringProvider) checker(t *testing.T, mode OpaqueMode, audiences ...string) *OpaqueChecker {
	t.Helper()
	return NewOpaqueChecker(OpaqueConfig{Provider: "corp", Mode: mode, Audiences: audiences, ClientID: gwClient, ClientSecret: gwSecret}, ap.source(t))
}

// opaqueToken returns a distinct token of a plausible shape.
func opaqueToken(name string) string { return "tok-" + name + "-0123456789abcdef" }

// wantRefused asserts an Invalid *Error with code.
func wantRefused(t *testing.T, what string, err error, code Code) {
	t.Helper()
	var te *Error
	switch {
	case err == nil:
		t.Errorf("%s: accepted, want refused (%s)", what, code)
	case !errors.As(err, &te) || te.Kind != Invalid || te.Code != code:
		t.Errorf("%s: %v, want invalid %s", what, err, code)
	}
}

// RFC 7662 answers name the client a token was issued to: the gateway takes
// a token only when the answer's aud (or, without aud, client_id and azp)
// names its client or audience, and refuses an answer that names none. The
// provider here is real HTTP on loopback and its answers are active; only
// the audience/client check stands between another application's token
// and the gateway.
func TestIntrospectionAnswerMustNameThisGateway(t *testing.T) {
	ap := startAnsweringProvider(t)
	exp := time.Now().Add(time.Hour).Unix()
	for name, m := range map[string]map[string]any{
		"own":                 {"sub": "alice", "client_id": gwClient, "aud": gwClient, "exp": exp},
		"own-client-only":     {"sub": "alice", "client_id": gwClient},
		"own-azp-only":        {"sub": "alice", "azp": gwClient},
		"own-aud-in-list":     {"sub": "alice", "aud": []string{"other-app", gwClient}, "client_id": "mobile"},
		"other":               {"sub": "bob", "client_id": "other-app", "aud": "other-app", "exp": exp},
		"other-aud":           {"sub": "bob", "aud": "other-app", "client_id": gwClient},
		"other-client":        {"sub": "bob", "client_id": "other-app"},
		"other-azp":           {"sub": "bob", "client_id": gwClient, "azp": "other-app"},
		"client-case":         {"sub": "bob", "client_id": "GW"},
		"client-padded":       {"sub": "bob", "client_id": gwClient + " "},
		"names-none":          {"sub": "bob", "scope": "read"},
		"aud-not-a-string":    {"sub": "bob", "aud": []any{gwClient, 7}},
		"client-id-not-a-str": {"sub": "bob", "client_id": []string{gwClient}},
		"api-audience":        {"sub": "carol", "aud": "api", "client_id": "mobile"},
	} {
		ap.set(opaqueToken(name), m)
	}
	c := ap.checker(t, OpaqueIntrospection)
	ctx := context.Background()
	for _, name := range []string{"own", "own-client-only", "own-azp-only", "own-aud-in-list"} {
		id, err := c.Check(ctx, opaqueToken(name))
		if err != nil || id.Subject != "alice" || id.Provider != "corp" {
			t.Errorf("%s: %+v, %v; want alice accepted", name, id, err)
		}
	}
	for name, code := range map[string]Code{
		"other":               CodeAudienceNotAccepted,
		"other-aud":           CodeAudienceNotAccepted,
		"other-client":        CodeAudienceNotAccepted,
		"other-azp":           CodeAudienceNotAccepted,
		"client-case":         CodeAudienceNotAccepted,
		"client-padded":       CodeAudienceNotAccepted,
		"names-none":          CodeAudienceNotAccepted,
		"api-audience":        CodeAudienceNotAccepted, // api is not this gateway's audience
		"aud-not-a-string":    CodeInvalidClaim,
		"client-id-not-a-str": CodeInvalidClaim,
	} {
		_, err := c.Check(ctx, opaqueToken(name))
		wantRefused(t, name, err, code)
	}

	// Configured audiences replace the client ID as what an answer must name.
	api := ap.checker(t, OpaqueIntrospection, "api")
	if id, err := api.Check(ctx, opaqueToken("api-audience")); err != nil || id.Subject != "carol" {
		t.Errorf("audience api: %+v, %v; want carol accepted", id, err)
	}
	_, err := api.Check(ctx, opaqueToken("own-client-only"))
	wantRefused(t, "audience api, an answer naming only client gw", err, CodeAudienceNotAccepted)

	// A refusal is remembered: the other application's token, replayed,
	// costs no second call.
	before := ap.calls.Load()
	_, err = c.Check(ctx, opaqueToken("other"))
	wantRefused(t, "other, replayed", err, CodeRejectedByProvider)
	if n := ap.calls.Load() - before; n != 0 {
		t.Errorf("a refused token replayed cost %d calls, want 0", n)
	}
}

// Userinfo answers are checked for whatever client they name; one that
// names none is accepted (the documented limit of userinfo mode). A stated
// iss must be the provider's, as in introspection mode.
func TestUserinfoAnswerNamingAnotherClientRefused(t *testing.T) {
	ap := startAnsweringProvider(t)
	for name, m := range map[string]map[string]any{
		"own":          {"sub": "alice", "aud": gwClient, "azp": gwClient},
		"names-none":   {"sub": "alice"},
		"other-aud":    {"sub": "bob", "aud": "other-app", "azp": "other-app"},
		"other-azp":    {"sub": "bob", "azp": "other-app"},
		"other-client": {"sub": "bob", "client_id": "other-app"},
		"other-issuer": {"sub": "bob", "iss": "https://elsewhere.example"},
	} {
		ap.set(opaqueToken(name), m)
	}
	c := ap.checker(t, OpaqueUserinfo)
	ctx := context.Background()
	for _, name := range []string{"own", "names-none"} {
		if id, err := c.Check(ctx, opaqueToken(name)); err != nil || id.Subject != "alice" {
			t.Errorf("%s: %+v, %v; want alice accepted", name, id, err)
		}
	}
	for _, name := range []string{"other-aud", "other-azp", "other-client"} {
		_, err := c.Check(ctx, opaqueToken(name))
		wantRefused(t, name, err, CodeAudienceNotAccepted)
	}
	_, err := c.Check(ctx, opaqueToken("other-issuer"))
	wantRefused(t, "other-issuer", err, CodeIssuerNotTrusted)
}

// The rest of an answer's rules, each against the real endpoint: a subject
// is required, a stated iss must be the provider's, a stated exp bounds
// the identity and a past one refuses it, a refresh token is no bearer
// token, an inactive token is refused; junk costs no call; an outage is
// answered 503 and not remembered as a refusal.
func TestOpaqueAnswerRules(t *testing.T) {
	ap := startAnsweringProvider(t)
	soon := time.Now().Add(30 * time.Second).Truncate(time.Second)
	for name, m := range map[string]map[string]any{
		"no-sub":        {"client_id": gwClient},
		"control-sub":   {"sub": "alice\r\nX-Admin: 1", "client_id": gwClient},
		"other-issuer":  {"sub": "alice", "client_id": gwClient, "iss": "https://elsewhere.example"},
		"issuer-number": {"sub": "alice", "client_id": gwClient, "iss": 7},
		"own-issuer":    {"sub": "alice", "client_id": gwClient, "iss": ap.srv.URL},
		"expired":       {"sub": "alice", "client_id": gwClient, "exp": time.Now().Add(-time.Minute).Unix()},
		"expires-soon":  {"sub": "alice", "client_id": gwClient, "exp": soon.Unix(), "scope": "read write"},
		"refresh":       {"sub": "alice", "client_id": gwClient, "token_type": "refresh_token"},
	} {
		ap.set(opaqueToken(name), m)
	}
	c := ap.checker(t, OpaqueIntrospection)
	ctx := context.Background()
	for name, code := range map[string]Code{
		"no-sub":        CodeOther,
		"control-sub":   CodeOther,
		"other-issuer":  CodeIssuerNotTrusted,
		"issuer-number": CodeIssuerNotTrusted,
		"expired":       CodeExpired,
		"refresh":       CodeWrongType,
		"unknown":       CodeRejectedByProvider,
	} {
		_, err := c.Check(ctx, opaqueToken(name))
		wantRefused(t, name, err, code)
	}
	if id, err := c.Check(ctx, opaqueToken("own-issuer")); err != nil || id.Issuer != ap.srv.URL {
		t.Errorf("own issuer: %+v, %v", id, err)
	}
	id, err := c.Check(ctx, opaqueToken("expires-soon"))
	if err != nil || !id.Expiry.Equal(soon) || strings.Join(id.Scopes, " ") != "read write" {
		t.Errorf("expires soon: %+v, %v; want expiry %s and scopes read write", id, err, soon)
	}
	before := ap.calls.Load()
	for _, junk := range []string{"short", "has space 0123456789abcdef", "nul\x000123456789abcdef"} {
		_, err := c.Check(ctx, junk)
		wantRefused(t, "junk", err, CodeMalformed)
	}
	if n := ap.calls.Load() - before; n != 0 {
		t.Errorf("junk tokens cost %d calls, want 0", n)
	}

	ap.set(opaqueToken("during-outage"), map[string]any{"sub": "alice", "client_id": gwClient})
	ap.down.Store(true)
	_, err = c.Check(ctx, opaqueToken("during-outage"))
	var te *Error
	if !errors.As(err, &te) || te.Kind != Unavailable || te.Code != CodeProviderUnavailable || te.RetryAfter <= 0 {
		t.Errorf("provider down: %v, want unavailable provider_unavailable with Retry-After", err)
	}
	ap.down.Store(false)
	if _, err := c.Check(ctx, opaqueToken("during-outage")); err != nil {
		t.Errorf("after the outage: %v (the outage was remembered as a refusal)", err)
	}
}

// Concurrent checks of one unknown token share one call; past the bucket
// the caller is told to come back (503 with Retry-After), and that answer
// is not remembered as a refusal.
func TestOpaqueCallsSharedAndBounded(t *testing.T) {
	ap := startAnsweringProvider(t)
	ap.set(opaqueToken("own"), map[string]any{"sub": "alice", "client_id": gwClient})
	ap.hold = make(chan struct{})
	c := NewOpaqueChecker(OpaqueConfig{Provider: "corp", Mode: OpaqueIntrospection, ClientID: gwClient, ClientSecret: gwSecret, Rate: 0.001, Burst: 1}, ap.source(t))
	ctx := context.Background()
	var wg, started sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		started.Add(1)
		go func() {
			defer wg.Done()
			started.Done()
			_, err := c.Check(ctx, opaqueToken("own"))
			errs <- err
		}()
	}
	started.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for ap.calls.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	// Every caller is a few microseconds from joining the held call.
	time.Sleep(200 * time.Millisecond)
	close(ap.hold)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a concurrent check: %v", err)
		}
	}
	if n := ap.calls.Load(); n != 1 {
		t.Errorf("8 concurrent checks of one token made %d calls, want 1", n)
	}
	// The bucket (burst 1) is spent: the next unknown token is not asked.
	ap.set(opaqueToken("later"), map[string]any{"sub": "alice", "client_id": gwClient})
	_, err := c.Check(ctx, opaqueToken("later"))
	var te *Error
	if !errors.As(err, &te) || te.Kind != Unavailable || te.Code != CodeRateLimited || te.RetryAfter < time.Second {
		t.Fatalf("past the bucket: %v, want unavailable rate_limited with Retry-After", err)
	}
	if c.gate.rejected.has(sha256.Sum256([]byte(opaqueToken("later")))) {
		t.Error("a rate-limited token was remembered as refused")
	}
	if n := ap.calls.Load(); n != 1 {
		t.Errorf("past the bucket the provider was called (%d calls)", n)
	}
}
