package integration

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// otherClient is a second application registered at the demo provider: its
// users' access tokens are valid at the provider but were not issued to the
// gateway.
var otherClient = demoidp.Client{ID: "other-app", Secret: "other-app-secret", AllowLoopbackRedirects: true}

// twoClients are the demo provider's options with the gateway's client and
// otherClient registered, and opaque access tokens.
func twoClients(statesClient bool) demoidp.Options {
	return demoidp.Options{
		AutoApprove:          true,
		OpaqueAccessTokens:   true,
		UserinfoStatesClient: statesClient,
		Clients:              []demoidp.Client{demoidp.DefaultClient(), otherClient},
	}
}

// accessTokenFor runs the code flow at the demo provider as the given client
// (login_hint + AutoApprove, without the gateway) and returns the access
// token it issued.
func accessTokenFor(t *testing.T, idp *demoidp.Server, client demoidp.Client, user string) string {
	t.Helper()
	c := idp.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	verifier := strings.Repeat("w", 50)
	q := url.Values{
		"client_id": {client.ID}, "redirect_uri": {"http://127.0.0.1:1/cb"},
		"response_type": {"code"}, "scope": {"openid profile aliuid email"}, "state": {"s"}, "login_hint": {user},
		"code_challenge": {verifier}, "code_challenge_method": {"plain"},
	}
	resp, err := c.Get(idp.Issuer() + demoidp.PathAuthorize + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	code := loc.Query().Get("code")
	if code == "" {
		t.Fatalf("no code for %s: %d %s", client.ID, resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, err = c.PostForm(idp.Issuer()+demoidp.PathToken, url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"http://127.0.0.1:1/cb"},
		"code_verifier": {verifier}, "client_id": {client.ID}, "client_secret": {client.Secret},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("token response for %s: %d %v", client.ID, resp.StatusCode, err)
	}
	at, _ := out["access_token"].(string)
	if at == "" || strings.Count(at, ".") == 2 {
		t.Fatalf("the provider issued no opaque access token to %s", client.ID)
	}
	return at
}

// startOpaque starts Caddy with the demo provider (extra lines in its
// block) in front of whoami, and waits until the provider's discovery and
// keys are loaded (a signed token passes), so that no check below meets a
// provider whose endpoints are not known yet (503).
func (e *env) startOpaque(providerExtra ...string) {
	e.t.Helper()
	e.start(e.globals(e.providerBlock("demo", providerExtra...)) + e.site("edgeauth demo", "\t\tpublic /healthz"))
	jwt := e.aliceToken()
	waitFor(e.t, "the provider's discovery and keys", 10*time.Second, func() bool {
		resp, _ := e.get("/", jwt)
		return resp.StatusCode == http.StatusOK
	})
}

// refused asserts a 401 invalid_token answer.
func (e *env) refused(what, tok string) {
	e.t.Helper()
	resp, body := e.get("/api", tok)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_token") {
		e.t.Errorf("%s: %d %q %.300s, want 401 invalid_token", what, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
	}
}

// Finding 1: in userinfo mode an access token that the provider issued to
// another application passed as that user. When the userinfo answer names
// the client (aud/azp), the gateway must compare it.
func TestFinding1UserinfoRefusesAnotherClientsToken(t *testing.T) {
	e := newEnv(t, twoClients(true))
	e.startOpaque("opaque_tokens userinfo")
	own := accessTokenFor(t, e.idp, demoidp.DefaultClient(), "alice")
	if got := e.upstreamSaw(e.get("/api", own)); got.header("X-Auth-Subject") != "2000000000000002" {
		t.Fatalf("the gateway's own token: subject %q", got.header("X-Auth-Subject"))
	}
	e.refused("userinfo mode, a token issued to other-app", accessTokenFor(t, e.idp, otherClient, "bob"))
}

// Finding 1: introspection states client_id and aud; a token issued to
// another client is refused. (This check existed; nothing tested it.)
func TestFinding1IntrospectionRefusesAnotherClientsToken(t *testing.T) {
	e := newEnv(t, twoClients(false))
	e.startOpaque("opaque_tokens introspection")
	own := accessTokenFor(t, e.idp, demoidp.DefaultClient(), "alice")
	if got := e.upstreamSaw(e.get("/api", own)); got.header("X-Auth-Subject") != "2000000000000002" {
		t.Fatalf("the gateway's own token: subject %q", got.header("X-Auth-Subject"))
	}
	other := accessTokenFor(t, e.idp, otherClient, "bob")
	before := e.idp.Counts().Introspect
	e.refused("introspection mode, a token issued to other-app", other)
	if e.idp.Counts().Introspect == before {
		t.Error("the other client's token was not introspected")
	}
}

// Finding 1: `preset aliyun` turned userinfo checks on by default, so any
// Alibaba application's access token passed. A preset no longer does; only
// an explicit `opaque_tokens userinfo` does.
func TestFinding1PresetDoesNotTurnOnUserinfo(t *testing.T) {
	e := newEnv(t, twoClients(false))
	preset := []string{"preset aliyun", "userinfo_endpoint " + e.idp.Issuer() + demoidp.PathUserinfo}
	e.startOpaque(preset...)
	before := e.idp.Counts().Userinfo
	e.refused("preset aliyun, a token issued to other-app", accessTokenFor(t, e.idp, otherClient, "bob"))
	e.refused("preset aliyun, the gateway's own opaque token", accessTokenFor(t, e.idp, demoidp.DefaultClient(), "alice"))
	if n := e.idp.Counts().Userinfo - before; n != 0 {
		t.Errorf("opaque tokens cost %d userinfo calls under a preset alone", n)
	}
	e.startOpaque(append(preset, "opaque_tokens userinfo")...)
	if got := e.upstreamSaw(e.get("/api", accessTokenFor(t, e.idp, demoidp.DefaultClient(), "alice"))); got.header("X-Auth-Subject") != "2000000000000002" {
		t.Errorf("preset with an explicit opaque_tokens userinfo: subject %q", got.header("X-Auth-Subject"))
	}
}

// randomBearer returns a token-shaped random string (32 random bytes,
// base64url): it passes any shape check, so only the provider can refuse it.
func randomBearer(t *testing.T) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Finding 7: 300 random bearer strings made 300 provider calls. Junk that
// cannot be a token costs no call; token-shaped junk costs at most the
// provider's bucket (burst plus rate × elapsed), the rest are answered 401 or
// 503 with Retry-After, and a legitimate cached token keeps working.
func TestFinding7JunkOpaqueTokensAreBounded(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra []string
		rate  float64 // calls per second
		burst int
	}{
		{"defaults", nil, 20, 40},
		{"opaque_rate 2/s 5", []string{"opaque_rate 2/s 5"}, 2, 5},
	} {
		t.Run(strings.ReplaceAll(tc.name, "/", "per"), func(t *testing.T) {
			e := newEnv(t, twoClients(false))
			e.startOpaque(append([]string{"opaque_tokens introspection"}, tc.extra...)...)
			legit := accessTokenFor(t, e.idp, demoidp.DefaultClient(), "alice")
			e.upstreamSaw(e.get("/api", legit))

			// Not token-shaped: refused before any call.
			before := e.idp.Counts().Introspect
			for _, junk := range []string{"short", "a b c d e f g h i j k l", "ünïcödé-tökén-0123456789abcdef",
				strings.Repeat("A", 8193), "abc=def0123456789abcdef0123456789", `quoted"token0123456789abcdef01234`} {
				e.refused(fmt.Sprintf("junk %.20q", junk), junk)
			}
			if n := e.idp.Counts().Introspect - before; n != 0 {
				t.Errorf("tokens that cannot be access tokens cost %d provider calls", n)
			}

			// The flood: 300 token-shaped random strings from 6 callers.
			start := time.Now()
			var mu sync.Mutex
			status := map[int]int{}
			var wg sync.WaitGroup
			for w := 0; w < 6; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 50; i++ {
						resp, body := e.get("/api", randomBearer(t))
						mu.Lock()
						status[resp.StatusCode]++
						mu.Unlock()
						if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
							t.Errorf("503 without Retry-After: %s", body)
						}
						if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusServiceUnavailable {
							t.Errorf("random token: %d %.200s", resp.StatusCode, body)
						}
					}
				}()
			}
			// Meanwhile the legitimate, cached token still passes.
			for i := 0; i < 20; i++ {
				if resp, body := e.get("/api", legit); resp.StatusCode != http.StatusOK {
					t.Errorf("the cached legitimate token during the flood: %d %.200s", resp.StatusCode, body)
				}
			}
			wg.Wait()
			elapsed := time.Since(start)
			calls := e.idp.Counts().Introspect - before
			bound := int64(tc.burst) + int64(math.Ceil(tc.rate*elapsed.Seconds()))
			t.Logf("300 random tokens in %s: %d provider calls (bound %d), statuses %v", elapsed.Round(time.Millisecond), calls, bound, status)
			if calls > bound {
				t.Errorf("300 random tokens made %d provider calls in %s; the bucket allows %d", calls, elapsed, bound)
			}
			if status[http.StatusServiceUnavailable] == 0 {
				t.Error("no caller was told to come back later (503)")
			}
		})
	}
}

// Sibling of finding 1 (cache keys): an opaque token's answer is cached for
// the provider and mode that produced it. A route whose opaque tokens go to
// another provider must ask that provider, not take the first route's
// answer from the cache (which made the result depend on which route a
// token visited first).
func TestFinding1OpaqueCacheKeyedByProviderAndMode(t *testing.T) {
	e := newEnv(t, twoClients(false))
	idp2, err := demoidp.New(demoidp.Options{AutoApprove: true, OpaqueAccessTokens: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := idp2.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idp2.Close() })
	ca2, err := idp2.WriteCAFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	second := fmt.Sprintf(`		provider second {
			issuer %s
			client_id %s
			client_secret %s
			tls_ca %s
			opaque_tokens introspection
		}`, idp2.Issuer(), demoidp.DefaultClientID, demoidp.DefaultClientSecret, ca2)
	e.start(e.globals(e.providerBlock("demo", "opaque_tokens userinfo")+"\n"+second) + fmt.Sprintf(`http://127.0.0.1:%d {
	handle /a/* {
		edgeauth demo
		reverse_proxy %s
	}
	handle /b/* {
		edgeauth second demo
		reverse_proxy %s
	}
}
`, e.port, e.upstream, e.upstream))

	jwt1 := e.aliceToken()
	jwt2, err := idp2.MintFor("alice", []string{"openid"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both providers' discovery and keys", 10*time.Second, func() bool {
		a, _ := e.get("/a/x", jwt1)
		b, _ := e.get("/b/x", jwt2)
		return a.StatusCode == http.StatusOK && b.StatusCode == http.StatusOK
	})

	tok := accessTokenFor(t, e.idp, demoidp.DefaultClient(), "alice")
	// Route b asks its first opaque provider (second), which does not know
	// the token — whether or not route a saw it first.
	resp, _ := e.get("/b/x", tok)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("route b before route a: %d, want 401", resp.StatusCode)
	}
	e.upstreamSaw(e.get("/a/x", tok))
	if resp, body := e.get("/b/x", tok); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("route b after route a cached the token: %d %.200s, want 401 as before", resp.StatusCode, body)
	}
}

// Finding 7, the other side of the bucket: a caller refused because the
// bucket is empty (503) is not remembered as refused. The same token passes
// once the bucket has refilled, so a flood cannot make a legitimate token
// fail later (no poisoning of the rejected-token memory).
func TestFinding7BucketRefusalIsNotRemembered(t *testing.T) {
	e := newEnv(t, twoClients(false))
	// One call, then one every 3s: wide enough that the second request below
	// finds the bucket empty even on a slow machine.
	e.startOpaque("opaque_tokens introspection", "opaque_rate 20/m 1")
	first := accessTokenFor(t, e.idp, demoidp.DefaultClient(), "alice")
	second := accessTokenFor(t, e.idp, demoidp.DefaultClient(), "bob")
	e.upstreamSaw(e.get("/api", first))
	resp, body := e.get("/api", second)
	retry, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if resp.StatusCode != http.StatusServiceUnavailable || err != nil || retry < 1 || retry > 3 {
		t.Fatalf("a new token right after the bucket's only call: %d Retry-After %q %.200s, want 503 and 1-3s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	time.Sleep(time.Duration(retry)*time.Second + 100*time.Millisecond)
	if got := e.upstreamSaw(e.get("/api", second)); got.header("X-Auth-Subject") != "2000000000000003" {
		t.Errorf("after the refill: subject %q, want bob's", got.header("X-Auth-Subject"))
	}
	// The first token is still served from the cache, without a call.
	before := e.idp.Counts().Introspect
	e.upstreamSaw(e.get("/api", first))
	if e.idp.Counts().Introspect != before {
		t.Error("the cached token cost a provider call")
	}
}
