package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
	"github.com/edgeauth/caddy-edgeauth/internal/redistest"
)

// The fleet test runs three gateways sharing one Redis (`store redis` in
// the session block). Caddy runs once per process, so the gateways are
// three processes of the real binary built from ./cmd/caddy; the demo
// provider, the STS emulator, the whoami upstream and Redis are shared.
// Cookies are host-only and ports are not part of a cookie's scope, so a
// browser's jar sends the cookie one instance set to the other two.

// fleetTokenTTL is the demo provider's access and ID token lifetime: short,
// so that a session enters its refresh margin without a long wait.
const fleetTokenTTL = 6 * time.Second

// fleetRefreshMargin is the login flow's refresh margin for such tokens:
// its 60s default is capped at half the tokens' lifetime.
const fleetRefreshMargin = fleetTokenTTL / 2

// fleetNode is one gateway process.
type fleetNode struct {
	name   string
	env    *env // a copy of the world's env with this node's port
	cmd    *exec.Cmd
	output *tailBuffer
	exited chan struct{}
}

// fleetWorld is the provider, the STS emulator, Redis and three gateways.
type fleetWorld struct {
	*stsWorld
	redis *redistest.Server // the single Redis server (newFleet only)
	store string            // the lines of the `store redis` block
	nodes []*fleetNode
}

// newFleet builds the caddy binary, starts Redis and three gateways on it
// and waits until each has loaded the provider's keys.
func newFleet(t *testing.T, opts demoidp.Options) *fleetWorld {
	t.Helper()
	rs := redistest.Start(t)
	f := newFleetOn(t, opts, "address "+rs.Addr())
	f.redis = rs
	return f
}

// newFleetOn is newFleet on a Redis the caller started: store holds the
// `store redis` lines that reach it (address, cluster or sentinel).
func newFleetOn(t *testing.T, opts demoidp.Options, store string) *fleetWorld {
	t.Helper()
	began := time.Now()
	bin := buildCaddy(t)
	t.Logf("built ./cmd/caddy in %s", time.Since(began).Round(time.Millisecond))
	f := &fleetWorld{stsWorld: newSTSWorld(t, opts), store: store}
	began = time.Now()
	for i := 1; i <= 3; i++ {
		ne := *f.env
		ne.port = freePort(t)
		ne.admin = 0
		n := &fleetNode{name: fmt.Sprintf("instance %d", i), env: &ne, output: &tailBuffer{max: 64 << 10}, exited: make(chan struct{})}
		f.nodes = append(f.nodes, n)
		f.startNode(t, bin, n)
	}
	probe := f.aliceToken()
	for _, n := range f.nodes {
		waitFor(t, n.name+" to answer with the provider's keys loaded", 20*time.Second, func() bool {
			select {
			case <-n.exited:
				t.Fatalf("%s exited while starting; its output:\n%s", n.name, n.output)
			default:
			}
			req, _ := http.NewRequest(http.MethodGet, n.env.url("/bearer/ready"), nil)
			req.Header.Set("Authorization", "Bearer "+probe)
			resp, err := f.client.Do(req)
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
	}
	t.Logf("three gateways ready in %s", time.Since(began).Round(time.Millisecond))
	return f
}

// caddyBuild is the caddy binary built once for the whole test binary
// (the fleet, command and version tests share it); TestMain removes it.
var caddyBuild struct {
	once     sync.Once
	dir, bin string
	err      error
}

// buildCaddy builds ./cmd/caddy (from the module root, the parent of this
// package's directory) into a temporary directory, once per test binary.
func buildCaddy(t *testing.T) string {
	t.Helper()
	caddyBuild.once.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			caddyBuild.err = fmt.Errorf("the go tool is not on PATH; the fleet test builds ./cmd/caddy with it: %v", err)
			return
		}
		if caddyBuild.dir, err = os.MkdirTemp("", "edgeauth-caddy-"); err != nil {
			caddyBuild.err = err
			return
		}
		bin := filepath.Join(caddyBuild.dir, "caddy")
		cmd := exec.Command(goTool, "build", "-o", bin, "./cmd/caddy")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			caddyBuild.err = fmt.Errorf("go build ./cmd/caddy: %v\n%s", err, out)
			return
		}
		caddyBuild.bin = bin
	})
	if caddyBuild.err != nil {
		t.Fatal(caddyBuild.err)
	}
	return caddyBuild.bin
}

// startNode writes the node's Caddyfile and runs `caddy run` with its own
// config and data directories; the process is killed when the test ends
// and its output is logged when the test failed.
func (f *fleetWorld) startNode(t *testing.T, bin string, n *fleetNode) {
	t.Helper()
	cfg := writeFile(t, "Caddyfile", f.caddyfile(n))
	home := t.TempDir()
	cmd := exec.Command(bin, "run", "--config", cfg, "--adapter", "caddyfile")
	cmd.Dir = home
	cmd.Env = append(os.Environ(),
		"HOME="+home,
		"XDG_CONFIG_HOME="+filepath.Join(home, "config"),
		"XDG_DATA_HOME="+filepath.Join(home, "data"))
	cmd.Stdout, cmd.Stderr = n.output, n.output
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", n.name, err)
	}
	n.cmd = cmd
	go func() {
		_ = cmd.Wait()
		close(n.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-n.exited
		if t.Failed() {
			t.Logf("%s (port %d) output (last %d KiB):\n%s", n.name, n.env.port, n.output.max>>10, n.output)
		}
	})
}

// caddyfile is a node's configuration: the same provider, session secret,
// Redis and STS on every node, and three routes: /bearer/* (tokens only,
// never the store), /sts/* (tokens plus the STS exchange) and everything
// else with the browser login. The store's fallback is left at its
// default (closed).
func (f *fleetWorld) caddyfile(n *fleetNode) string {
	return fmt.Sprintf(`{
	admin off
	persist_config off
	auto_https off
	default_bind 127.0.0.1
	skip_install_trust
	log {
		output stderr
		level INFO
	}
	servers {
		max_header_size 64KB
	}
	edgeauth {
%s
		session {
			secret %s
			store redis {
				%s
				key_prefix edgeauth-fleet-test:
			}
		}
%s
	}
}

http://127.0.0.1:%d {
	handle /bearer/* {
		edgeauth demo {
		}
		reverse_proxy %[6]s
	}
	handle /sts/* {
		edgeauth demo {
			sts alibaba
		}
		reverse_proxy %[6]s
	}
	handle {
		edgeauth demo {
			login {
				param access_type offline
			}
		}
		reverse_proxy %[6]s
	}
}
`, f.providerBlock("demo", "scopes openid profile aliuid email"), secretNew, strings.ReplaceAll(f.store, "\n", "\n\t\t\t\t"), f.stsBlock(), n.env.port, f.upstream)
}

// envs returns the nodes' envs bound to t (helpers fail t, so a subtest
// must not use envs bound to its parent).
func (f *fleetWorld) envs(t *testing.T) []*env {
	out := make([]*env, len(f.nodes))
	for i, n := range f.nodes {
		e := *n.env
		e.t = t
		out[i] = &e
	}
	return out
}

// at returns a cookie client sharing b's cookie jar and client that sends its
// requests to e's gateway.
func (b *cookieClient) at(e *env) *cookieClient {
	c := *b
	c.e = e
	return &c
}

// sessionCookieSize is the total size (name=value) of a cookie client's session
// cookies.
func sessionCookieSize(b *cookieClient) int {
	n := 0
	for _, c := range b.sessionCookies() {
		n += len(c.Name) + 1 + len(c.Value)
	}
	return n
}

// subjectOf is the X-Auth-Subject the upstream saw, or a description of
// what went wrong.
func subjectOf(resp *http.Response, body []byte) (string, error) {
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d: %.300s", resp.StatusCode, body)
	}
	var got echo
	if err := json.Unmarshal(body, &got); err != nil {
		return "", fmt.Errorf("not whoami JSON: %.300s", body)
	}
	return got.header("X-Auth-Subject"), nil
}

// fetch sends one request with c and reads the answer; it never fails the
// test, so it can run in goroutines.
func fetch(c *http.Client, target string, header http.Header) (*http.Response, []byte, error) {
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// concurrently runs n calls of fn at once (fn gets its index) and returns
// the non-empty answers (failures).
func concurrently(n int, fn func(i int) string) []string {
	out := make(chan string, n)
	start := make(chan struct{})
	for i := range n {
		go func() {
			<-start
			out <- fn(i)
		}()
	}
	close(start)
	var failures []string
	for range n {
		if msg := <-out; msg != "" {
			failures = append(failures, msg)
		}
	}
	return failures
}

const aliceSubject = "2000000000000002"

func TestFleet(t *testing.T) {
	began := time.Now()
	f := newFleet(t, demoidp.Options{
		AutoApprove: true, AccessTokenTTL: fleetTokenTTL, IDTokenTTL: fleetTokenTTL,
		RotateRefreshTokens: true, RevokeFamilyOnReuse: true, RefreshReturnsIDToken: true,
	})
	t.Run("LoginIsSharedAndCookieHoldsOnlyAnID", f.testLoginShared)
	t.Run("LogoutOnOneEndsEverywhere", f.testLogout)
	t.Run("BackChannelLogout", f.testBackChannelLogout)
	t.Run("OneSTSExchangeAcrossInstances", f.testSTS)
	t.Run("OneRefreshAcrossInstances", f.testRefresh)
	t.Run("ServedFromMemory", f.testServedFromMemory)
	t.Run("RevocationWithinOneSecond", f.testRevocationWithinBound)
	t.Run("RedisOutageAndRecovery", f.testRedisOutage)
	for _, n := range f.nodes {
		select {
		case <-n.exited:
			t.Errorf("%s exited during the test (a crash?)", n.name)
		default:
		}
	}
	t.Logf("fleet test took %s", time.Since(began).Round(time.Millisecond))
}

// 1. A login on instance 1 is valid on 2 and 3; the cookie is a small
// sealed ID, not the session.
func (f *fleetWorld) testLoginShared(t *testing.T) {
	es := f.envs(t)
	b := es[0].newCookieClient("alice")
	b.login("/")
	if got := len(b.sessionCookies()); got != 1 {
		t.Errorf("%d session cookies, want exactly 1 (the sealed ID; no chunks)", got)
	}
	if size := sessionCookieSize(b); size == 0 || size >= 300 {
		t.Errorf("session cookie is %d bytes, want a sealed session ID under 300 bytes (the session belongs in Redis)", size)
	}
	for i, e := range es {
		sub, err := subjectOf(b.at(e).api("/app"))
		if err != nil || sub != aliceSubject {
			t.Errorf("instance %d with instance 1's cookie: subject %q, %v; want alice (%s)", i+1, sub, err, aliceSubject)
		}
	}
}

// 2. Logout on instance 2 ends the session on 1 and 3, also for a client
// that kept the old cookie.
func (f *fleetWorld) testLogout(t *testing.T) {
	es := f.envs(t)
	b := es[0].newCookieClient("alice")
	b.login("/")
	for i, e := range es {
		if sub, err := subjectOf(b.at(e).api("/app")); sub != aliceSubject {
			t.Fatalf("before logout, instance %d: subject %q, %v", i+1, sub, err)
		}
	}
	kept := b.sessionCookies()
	h := b.at(es[1]).do(http.MethodPost, es[1].url("/oauth2/logout"), url.Values{}, "Sec-Fetch-Site: same-origin")
	if h.Status != http.StatusFound {
		t.Fatalf("logout on instance 2: %d, want 302", h.Status)
	}
	if n := len(b.sessionCookies()); n != 0 {
		t.Errorf("instance 2 left %d session cookies after logout", n)
	}
	// The jar dropped the cookie; put the old one back, as a copy kept by
	// an attacker or another tab would be, so that the other instances
	// are really asked about the session.
	b.setCookies(kept)
	// The other gateways may answer from memory until the invalidation
	// arrives: the contract is refusal within revocationBound.
	f.waitRefused(t, es, cookieHeader(kept))
	for i, e := range es {
		resp, body := b.at(e).api("/app")
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("instance %d after logout on instance 2, API call with the old cookie: %d, want 401; %.200s", i+1, resp.StatusCode, body)
		}
		b.setCookies(kept)
		nav := b.at(e).do(http.MethodGet, e.url("/app"), nil)
		if nav.Status != http.StatusFound || !strings.HasPrefix(nav.Location, f.idp.Issuer()+demoidp.PathAuthorize) {
			t.Errorf("instance %d after logout on instance 2, browser navigation with the old cookie: %d → %q, want 302 to the provider's login", i+1, nav.Status, redactURL(nav.Location))
		}
		b.setCookies(kept)
	}
}

// 3. A back-channel logout token posted to instance 3 ends the session of
// its sid on all instances and leaves other sessions alone; a replay is
// refused.
func (f *fleetWorld) testBackChannelLogout(t *testing.T) {
	es := f.envs(t)
	alice := es[1].newCookieClient("alice")
	alice.login("/")
	bob := es[2].newCookieClient("bob")
	bob.login("/")
	status, info := alice.at(es[0]).userinfo()
	if status != http.StatusOK {
		t.Fatalf("userinfo on instance 1 with the session from instance 2: %d", status)
	}
	claims, _ := info["claims"].(map[string]any)
	sid, _ := claims["sid"].(string)
	if sid == "" {
		t.Fatalf("the session has no sid claim (the demo provider puts one in every ID token): %v", claims)
	}
	_, bobInfo := bob.userinfo()
	if bobClaims, _ := bobInfo["claims"].(map[string]any); bobClaims["sid"] == sid {
		t.Fatalf("alice and bob share the sid %q", sid)
	}

	logoutToken, err := f.idp.MintLogoutToken(sid, "") // sid alone: bob must stay
	if err != nil {
		t.Fatal(err)
	}
	post := func() (int, []byte) {
		t.Helper()
		resp, err := http.PostForm(es[2].url("/oauth2/backchannel_logout"), url.Values{"logout_token": {logoutToken}})
		if err != nil {
			t.Fatalf("POST backchannel_logout: %v", err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, body
	}
	if status, body := post(); status != http.StatusOK {
		t.Fatalf("back-channel logout on instance 3: %d, want 200; %.300s", status, body)
	}
	f.waitRefused(t, es, cookieHeader(alice.sessionCookies()))
	for i, e := range es {
		if resp, body := alice.at(e).api("/app"); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("instance %d after back-channel logout of alice's sid: %d, want 401; %.200s", i+1, resp.StatusCode, body)
		}
		if sub, err := subjectOf(bob.at(e).api("/app")); sub != "2000000000000003" {
			t.Errorf("instance %d: bob's session (another sid) after alice's back-channel logout: subject %q, %v; want it untouched", i+1, sub, err)
		}
	}
	if status, body := post(); status != http.StatusBadRequest {
		t.Errorf("replayed logout token: %d, want 400; %.300s", status, body)
	}
}

// 4. 50 concurrent requests of a new identity spread over the three
// instances cause exactly one STS exchange, and all get its credentials.
func (f *fleetWorld) testSTS(t *testing.T) {
	es := f.envs(t)
	sub := fmt.Sprintf("fleet-sts-%d", time.Now().UnixNano())
	tok := es[0].mint(map[string]any{"sub": sub})
	before := len(f.emu.Issued())
	var mu sync.Mutex
	keys := map[string]int{}
	failures := concurrently(50, func(i int) string {
		e := es[i%3]
		resp, body, err := fetch(f.client, e.url("/sts/data"), http.Header{"Authorization": {"Bearer " + tok}})
		if err != nil {
			return fmt.Sprintf("instance %d: %v", i%3+1, err)
		}
		var got echo
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &got) != nil {
			return fmt.Sprintf("instance %d: status %d: %.200s", i%3+1, resp.StatusCode, body)
		}
		mu.Lock()
		keys[got.header("X-Sts-Access-Key-Id")]++
		mu.Unlock()
		return ""
	})
	for _, msg := range failures {
		t.Errorf("request failed: %s", msg)
	}
	issued := f.emu.Issued()[before:]
	if len(issued) != 1 {
		t.Fatalf("50 concurrent requests of a new identity over three instances caused %d STS exchanges, want exactly 1", len(issued))
	}
	if issued[0].Subject != sub {
		t.Errorf("the exchange was for %q, want %q", issued[0].Subject, sub)
	}
	if len(keys) != 1 || keys[issued[0].AccessKeyID] != 50-len(failures) {
		t.Errorf("access key IDs seen upstream %v, want only the one issued (%d requests)", keys, 50-len(failures))
	}
}

// 5. Within the refresh margin, 30 concurrent requests spread over the
// three instances cause exactly one refresh, and all succeed (the provider
// rotates refresh tokens and revokes the family on reuse, so a second
// refresh with the old token would end the session).
func (f *fleetWorld) testRefresh(t *testing.T) {
	es := f.envs(t)
	b := es[0].newCookieClient("alice")
	b.login("/")
	status, info := b.userinfo()
	if status != http.StatusOK {
		t.Fatalf("userinfo after login: %d", status)
	}
	exp, err := time.Parse(time.RFC3339, fmt.Sprint(info["expires_at"]))
	if err != nil {
		t.Fatalf("expires_at %v: %v", info["expires_at"], err)
	}
	// expires_at has whole seconds; the true expiry is within the next one.
	wait := time.Until(exp.Add(time.Second - fleetRefreshMargin + 500*time.Millisecond))
	if wait > 10*time.Second {
		t.Fatalf("the session only enters the refresh margin in %s; token TTL is %s", wait, fleetTokenTTL)
	}
	time.Sleep(wait)
	before := f.idp.Counts().Token
	failures := concurrently(30, func(i int) string {
		e := es[i%3]
		resp, body, err := fetch(b.client, e.url("/app"), http.Header{"Accept": {"application/json"}})
		if err != nil {
			return fmt.Sprintf("instance %d: %v", i%3+1, err)
		}
		if sub, err := subjectOf(resp, body); err != nil || sub != aliceSubject {
			return fmt.Sprintf("instance %d: subject %q, %v", i%3+1, sub, err)
		}
		return ""
	})
	for _, msg := range failures {
		t.Errorf("request during the refresh failed: %s", msg)
	}
	if d := f.idp.Counts().Token - before; d != 1 {
		t.Errorf("30 concurrent requests over three instances within the refresh margin made %d token endpoint calls, want exactly 1 refresh", d)
	}
	for i, e := range es {
		status, info := b.at(e).userinfo()
		if status != http.StatusOK {
			t.Errorf("instance %d: userinfo after the refresh: %d", i+1, status)
			continue
		}
		if got, _ := time.Parse(time.RFC3339, fmt.Sprint(info["expires_at"])); !got.After(exp) {
			t.Errorf("instance %d: expires_at %v after the refresh, want later than %v (every instance sees the refreshed session)", i+1, got, exp)
		}
	}
}

// 6. Redis killed: requests that need the store get 503 with Retry-After
// at once (fallback closed, the default), the session is not cleared,
// bearer-only routes keep working and STS falls back to exchanging
// locally. Redis restarted: the same processes recover without a restart.
//
// redistest runs Redis without persistence, so the restart loses every
// session. What is asserted then: a cookie from before the outage counts
// as no session (401 for APIs) — neither 503 nor accepted, since a session
// Redis no longer holds could not be ended by logout — and a new login
// works and is shared by all three instances.
func (f *fleetWorld) testRedisOutage(t *testing.T) {
	es := f.envs(t)
	b := es[0].newCookieClient("alice")
	b.login("/")
	for i, e := range es {
		if sub, err := subjectOf(b.at(e).api("/app")); sub != aliceSubject {
			t.Fatalf("before the outage, instance %d: subject %q, %v", i+1, sub, err)
		}
	}
	bearer := es[0].aliceToken()
	f.redis.Stop()
	outage := time.Now()
	// A gateway may answer from memory until it notices (at most its
	// near-cache lease, 500ms); then it must not vouch for any session.
	for i, e := range es {
		for {
			st, err := f.apiStatus(e, cookieHeader(b.sessionCookies()))
			if st == http.StatusServiceUnavailable {
				break
			}
			if err != nil || st != http.StatusOK || time.Since(outage) > revocationBound {
				t.Fatalf("instance %d, %s after Redis died: %d, %v; want 503 within %s", i+1, time.Since(outage), st, err, revocationBound)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	t.Logf("every gateway stopped vouching for sessions %s after Redis died", time.Since(outage).Round(time.Millisecond))

	for i, e := range es {
		for try := 1; try <= 2; try++ {
			began := time.Now()
			resp, body := b.at(e).api("/app")
			took := time.Since(began)
			ra, err := strconv.Atoi(resp.Header.Get("Retry-After"))
			if resp.StatusCode != http.StatusServiceUnavailable || err != nil || ra < 1 {
				t.Errorf("instance %d, Redis down, request %d with a session: %d Retry-After %q, want 503 with Retry-After ≥ 1; %.200s",
					i+1, try, resp.StatusCode, resp.Header.Get("Retry-After"), body)
			}
			if took >= 2*time.Second {
				t.Errorf("instance %d, Redis down, request %d took %s, want < 2s (timeouts, no hang)", i+1, try, took)
			}
		}
		if len(b.sessionCookies()) != 1 {
			t.Errorf("instance %d cleared the session cookie while Redis was down (the session is not over)", i+1)
		}
		began := time.Now()
		resp, body := e.get("/bearer/x", bearer)
		if sub, err := subjectOf(resp, body); sub != aliceSubject || time.Since(began) >= 2*time.Second {
			t.Errorf("instance %d, Redis down, bearer-only route: subject %q, %v, took %s; want alice within 2s", i+1, sub, err, time.Since(began))
		}
	}
	// Shared STS credentials fail open: each instance exchanges on its own.
	stsTok := es[0].mint(map[string]any{"sub": fmt.Sprintf("fleet-outage-%d", time.Now().UnixNano())})
	for i, e := range es {
		began := time.Now()
		resp, body := e.get("/sts/x", stsTok)
		if resp.StatusCode != http.StatusOK || time.Since(began) >= 2*time.Second {
			t.Errorf("instance %d, Redis down, STS route: %d after %s, want 200 within 2s (exchange without the shared store); %.200s",
				i+1, resp.StatusCode, time.Since(began), body)
		}
	}
	t.Logf("outage checks took %s", time.Since(outage).Round(time.Millisecond))

	f.redis.Restart()
	restarted := time.Now()
	for i, e := range es {
		var last string
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, body := b.at(e).api("/app")
			if resp.StatusCode == http.StatusUnauthorized {
				break
			}
			last = fmt.Sprintf("%d %.200s", resp.StatusCode, body)
			if resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
				t.Fatalf("instance %d after Redis restarted, the pre-outage cookie (its session is gone with the data): %s; want 401 (503 only until the instance sees Redis again)", i+1, last)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Logf("all instances saw Redis again %s after the restart", time.Since(restarted).Round(time.Millisecond))

	nb := es[2].newCookieClient("alice")
	nb.login("/")
	for i, e := range es {
		if sub, err := subjectOf(nb.at(e).api("/app")); sub != aliceSubject {
			t.Errorf("instance %d after recovery, a login made on instance 3: subject %q, %v", i+1, sub, err)
		}
	}
	// The invalidation links are back too: sessions come from memory again.
	took := f.waitNoRedisReads(t, es, cookieHeader(nb.sessionCookies()), 5*time.Second)
	t.Logf("near-caches in use again %s after the new login", took.Round(time.Millisecond))
}

// tailBuffer keeps the last max bytes written to it; it is safe for
// concurrent use.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

// Write implements io.Writer.
func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

// String returns what was kept.
func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
