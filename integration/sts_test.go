package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
	"github.com/edgeauth/caddy-edgeauth/integration/stsemu"
)

// stsWorld is the bearer world plus the Alibaba STS emulator, with the demo
// provider registered as a RAM OIDC identity provider and two roles.
type stsWorld struct {
	*env
	emu         *stsemu.Server
	baseline    int // exchanges made before the test's own requests
	providerARN string
	readerARN   string
	adminARN    string
}

func newSTSWorld(t testing.TB, opts demoidp.Options) *stsWorld {
	t.Helper()
	e := newEnv(t, opts)
	emu := stsemu.New(stsemu.Options{HTTPClient: e.idp.Client()})
	emu.Start()
	t.Cleanup(emu.Close)
	prov, err := emu.CreateProvider(stsemu.Provider{
		Name:         "demo-idp",
		IssuerURL:    e.idp.Issuer(),
		ClientIDs:    []string{demoidp.DefaultClientID},
		Fingerprints: []string{e.idp.CAThumbprint()},
	})
	if err != nil {
		t.Fatal(err)
	}
	w := &stsWorld{env: e, emu: emu, providerARN: prov.Arn}
	reader, err := emu.CreateRole("app-reader", stsemu.OIDCTrust(prov.Arn, e.idp.Issuer(), demoidp.DefaultClientID, ""), 0)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := emu.CreateRole("app-admin", stsemu.OIDCTrust(prov.Arn, e.idp.Issuer(), demoidp.DefaultClientID, demoidp.DemoAccountID), 0)
	if err != nil {
		t.Fatal(err)
	}
	w.readerARN, w.adminARN = reader.Arn, admin.Arn
	return w
}

// stsBlock is the global `sts alibaba { … }` block.
func (w *stsWorld) stsBlock(extra ...string) string {
	return fmt.Sprintf(`		sts alibaba {
			endpoint %s
			oidc_provider_arn %s
			role_arn %s
			duration 1h
			timeout 2s
			%s
		}`, w.emu.URL(), w.providerARN, w.readerARN, strings.Join(extra, "\n\t\t\t"))
}

func (w *stsWorld) startSTS(siteBody string, stsExtra ...string) {
	w.t.Helper()
	w.start(w.globals(w.providerBlock("demo")+"\n"+w.stsBlock(stsExtra...)) + w.site("edgeauth demo", siteBody))
	w.waitReady()
}

// waitReady waits until the provider's keys have loaded, with a probe
// identity of its own so that the test's identities start uncached, and
// records how many exchanges were made until then.
func (w *stsWorld) waitReady() {
	w.t.Helper()
	probe := w.mint(map[string]any{"sub": fmt.Sprintf("readiness-probe-%d", time.Now().UnixNano())})
	waitFor(w.t, "the provider's keys", 10*time.Second, func() bool {
		resp, _ := w.get("/", probe)
		return resp.StatusCode != http.StatusServiceUnavailable
	})
	w.baseline = len(w.emu.Issued())
}

// issued returns the exchanges made since the world was started.
func (w *stsWorld) issued() []stsemu.Issued { return w.emu.Issued()[w.baseline:] }

func TestSTSCredentialsReachUpstream(t *testing.T) {
	w := newSTSWorld(t, demoidp.Options{})
	w.startSTS(`		sts alibaba {
			role_session_name {http.auth.user.upn}
		}`)
	alice := w.aliceToken()
	got := w.upstreamSaw(w.get("/", alice, "X-Sts-Access-Key-Id: spoofed", "x_sts_security_token: spoofed"))
	issued := w.issued()
	if len(issued) != 1 {
		t.Fatalf("%d exchanges, want 1", len(issued))
	}
	cred := issued[0]
	if got.header("X-Sts-Access-Key-Id") != cred.AccessKeyID || got.header("X-Sts-Access-Key-Secret") != cred.AccessKeySecret ||
		got.header("X-Sts-Security-Token") != cred.SecurityToken || got.header("X-Sts-Expiration") != cred.Expiration.UTC().Format(time.RFC3339) {
		t.Errorf("upstream credentials %v differ from the issued ones", got.Headers)
	}
	if cred.RoleArn != w.readerARN || cred.SessionName != "alice@example.onaliyun.com" || cred.ProviderArn != w.providerARN {
		t.Errorf("exchange request: role %s session %s provider %s", cred.RoleArn, cred.SessionName, cred.ProviderArn)
	}
	// Cached: the next requests cause no exchange.
	for i := 0; i < 5; i++ {
		w.upstreamSaw(w.get("/", alice))
	}
	if n := len(w.issued()); n != 1 {
		t.Errorf("%d exchanges after 6 requests of one identity, want 1", n)
	}
}

func TestSTSConcurrentNewIdentityExchangesOnce(t *testing.T) {
	w := newSTSWorld(t, demoidp.Options{})
	w.startSTS("\t\tsts alibaba")
	root, err := w.idp.MintFor("root", []string{"openid", "profile", "aliuid"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	failures := make(chan string, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, w.url("/"), nil)
			req.Header.Set("Authorization", "Bearer "+root)
			resp, err := w.client.Do(req)
			if err != nil {
				failures <- err.Error()
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				failures <- fmt.Sprint(resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	close(failures)
	for f := range failures {
		t.Errorf("request failed: %s", f)
	}
	if n := len(w.issued()); n != 1 {
		t.Errorf("50 concurrent requests of a new identity caused %d exchanges, want exactly 1", n)
	}
}

func TestSTSRoleFromClaims(t *testing.T) {
	w := newSTSWorld(t, demoidp.Options{})
	w.startSTS(fmt.Sprintf(`		sts alibaba {
			role_from_claim type account %s
			role_from_claim type user %s
		}`, w.adminARN, w.readerARN))
	root, _ := w.idp.MintFor("root", []string{"openid", "profile"})
	w.upstreamSaw(w.get("/", root))
	w.upstreamSaw(w.get("/", w.aliceToken()))
	issued := w.issued()
	if len(issued) != 2 || issued[0].RoleArn != w.adminARN || issued[1].RoleArn != w.readerARN {
		t.Fatalf("roles assumed: %+v", issued)
	}
	ops, _ := w.idp.MintFor("ops", []string{"openid", "profile"}) // type role: no rule
	resp, body := w.get("/", ops)
	assertError(t, resp, body, http.StatusForbidden, "access_denied")
}

// TestSTSErrorMapping drives each class of STS refusal through the gateway.
func TestSTSErrorMapping(t *testing.T) {
	w := newSTSWorld(t, demoidp.Options{})
	w.startSTS("\t\tsts alibaba")

	// A role whose trust policy does not name this subject → NoPermission → 403.
	w.start(w.globals(w.providerBlock("demo")+"\n"+strings.Replace(w.stsBlock(), w.readerARN, w.adminARN, 1)) + w.site("edgeauth demo", "\t\tsts alibaba"))
	resp, body := w.get("/", w.aliceToken())
	assertError(t, resp, body, http.StatusForbidden, "access_denied")
	assertSTSBody(t, body, "AuthenticationFail.NoPermission")

	// A role that does not exist → EntityNotExist.Role → 502.
	missing := strings.Replace(w.readerARN, "app-reader", "no-such-role", 1)
	w.start(w.globals(w.providerBlock("demo")+"\n"+strings.Replace(w.stsBlock(), w.readerARN, missing, 1)) + w.site("edgeauth demo", "\t\tsts alibaba"))
	resp, body = w.get("/", w.aliceToken())
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("unknown role: status %d, want 502; %s", resp.StatusCode, body)
	}
	assertSTSBody(t, body, "EntityNotExist.Role")

	// The IdP registration's audience differs → AudienceNotMatch → 401.
	w.startSTS("\t\tsts alibaba")
	if _, err := w.emu.UpdateProvider("demo-idp", stsemu.ProviderUpdate{AddClientIDs: []string{"other-app"}, RemoveClientIDs: []string{demoidp.DefaultClientID}}); err != nil {
		t.Fatal(err)
	}
	resp, body = w.get("/", w.aliceToken())
	assertError(t, resp, body, http.StatusUnauthorized, "invalid_token")
	assertSTSBody(t, body, "AuthenticationFail.OIDCToken.AudienceNotMatch")
	if _, err := w.emu.UpdateProvider("demo-idp", stsemu.ProviderUpdate{AddClientIDs: []string{demoidp.DefaultClientID}}); err != nil {
		t.Fatal(err)
	}

	// Throttled beyond the retries → 503 with Retry-After.
	w.emu.SetThrottle(10)
	resp, body = w.get("/", w.aliceToken(demoidp.WithClaims(map[string]any{"jti": "throttled"})))
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("throttled: %d Retry-After %q; %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	assertSTSBody(t, body, "Throttling")
	w.emu.SetThrottle(0)
}

// assertSTSBody checks that an STS refusal names the STS code (by prefix)
// and carries no credential or token.
func assertSTSBody(t *testing.T, body []byte, codePrefix string) {
	t.Helper()
	var b struct {
		Error, Code string
		RequestID   string `json:"request_id"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatalf("body %s: %v", body, err)
	}
	if !strings.HasPrefix(b.Code, codePrefix) {
		t.Errorf("body code %q, want %s…", b.Code, codePrefix)
	}
	if bytes.Contains(body, []byte("eyJ")) {
		t.Errorf("the body carries a token: %s", body)
	}
}

func TestSTSHangingAnswers503Quickly(t *testing.T) {
	w := newSTSWorld(t, demoidp.Options{})
	w.startSTS("\t\tsts alibaba")
	w.emu.SetHang(30 * time.Second)
	defer w.emu.SetHang(0)
	start := time.Now()
	resp, body := w.get("/", w.aliceToken())
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("hanging STS: %d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the answer took %s with a 2s STS timeout", d)
	}
}

func TestSTSWorkloadIdentityWithRotatingTokenFile(t *testing.T) {
	w := newSTSWorld(t, demoidp.Options{})
	tokenFile := writeFile(t, "oidc-token", "")
	writeToken := func(sub string) {
		tok := w.mint(map[string]any{"sub": sub})
		if err := os.WriteFile(tokenFile, []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeToken("gateway-1")
	w.startSTS("\t\tsts alibaba {\n\t\t\tsource workload\n\t\t}", "token_file "+tokenFile, "refresh_margin 59m59s")
	got := w.upstreamSaw(w.get("/", w.aliceToken()))
	if got.header("X-Sts-Access-Key-Id") == "" {
		t.Fatal("no workload credentials upstream")
	}
	writeToken("gateway-2")
	time.Sleep(1100 * time.Millisecond) // past the refresh margin: the next request exchanges again
	w.upstreamSaw(w.get("/", w.aliceToken()))
	issued := w.emu.Issued() // the readiness probe made the first exchange
	if len(issued) != 2 || issued[0].Subject != "gateway-1" || issued[1].Subject != "gateway-2" {
		t.Fatalf("workload exchanges: %+v", issued)
	}
}

// TestSTSWorkloadTokenRefusedIsMisconfiguration: when the STS refuses the
// gateway's own workload token (here: an audience the RAM identity provider
// does not list), the caller's credential is not at fault: the answer is 502
// sts_misconfigured, not a 401 that would send the client to sign in again.
func TestSTSWorkloadTokenRefusedIsMisconfiguration(t *testing.T) {
	w := newSTSWorld(t, demoidp.Options{})
	tokenFile := writeFile(t, "oidc-token", w.mint(map[string]any{"sub": "gateway", "aud": "not-registered"})+"\n")
	w.startSTS("\t\tsts alibaba {\n\t\t\tsource workload\n\t\t}", "token_file "+tokenFile)
	resp, body := w.get("/", w.aliceToken())
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "sts_misconfigured") || !strings.Contains(string(body), "AudienceNotMatch") {
		t.Fatalf("workload token refused by the STS: %d %s; want 502 sts_misconfigured with the STS code", resp.StatusCode, body)
	}
	if resp.Header.Get("WWW-Authenticate") != "" {
		t.Errorf("a configuration error challenges the caller: %q", resp.Header.Get("WWW-Authenticate"))
	}
}

// TestSTSSecretsNeverLogged writes Caddy's logs (debug level, with the
// README's filter for reverse_proxy's header dump) to a file through a run
// with exchanges, STS errors and a bad token, and checks that no token or
// credential appears.
func TestSTSSecretsNeverLogged(t *testing.T) {
	w := newSTSWorld(t, demoidp.Options{})
	logFile := writeFile(t, "caddy.log", "")
	// reverse_proxy's own debug line prints every upstream request header,
	// the injected credentials included; the README's log filter drops them.
	w.logOpts = []string{"output file " + logFile, "level DEBUG", `format filter {
			wrap json
			fields {
				request>headers>X-Sts-Access-Key-Secret delete
				request>headers>X-Sts-Security-Token delete
			}
		}`}
	w.startSTS("\t\tsts alibaba")
	alice := w.aliceToken()
	w.upstreamSaw(w.get("/", alice))
	w.emu.SetFail5xx(10)
	_, _ = w.get("/", w.aliceToken(demoidp.WithClaims(map[string]any{"jti": "x"})))
	w.emu.SetFail5xx(0)
	_, _ = w.get("/", tamper(alice))
	_ = caddy.Stop() // flush the log file
	raw, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	logs := string(raw)
	if !strings.Contains(logs, "decision") {
		t.Fatalf("the debug log has no decision lines; the test would prove nothing:\n%s", logs)
	}
	// Debug logging on an STS route is pointed out at load (red team F7):
	// without the filter above, reverse_proxy's debug line prints them.
	if !strings.Contains(logs, "debug logging is on for a route that injects STS credentials") {
		t.Error("no load-time warning about debug logging on an STS route")
	}
	for _, c := range w.emu.Issued() {
		for _, secret := range []string{c.AccessKeySecret, c.SecurityToken} {
			if strings.Contains(logs, secret) {
				t.Errorf("a credential appears in the logs")
			}
		}
	}
	if strings.Contains(logs, strings.Split(alice, ".")[2]) || strings.Contains(logs, strings.Split(alice, ".")[1]) {
		t.Errorf("a token appears in the logs")
	}
}

func TestSTSRefreshAheadOfExpiryAndCacheCap(t *testing.T) {
	w := newSTSWorld(t, demoidp.Options{})
	// Credentials live 15 minutes and are renewed 14m59s before that: after
	// one second the cached credentials are due again.
	w.start(strings.Replace(w.globals(w.providerBlock("demo")+"\n"+w.stsBlock("refresh_margin 14m59s", "max_entries 2")), "duration 1h", "duration 15m", 1) + w.site("edgeauth demo", "\t\tsts alibaba"))
	w.waitReady()
	alice := w.aliceToken()
	w.upstreamSaw(w.get("/", alice))
	w.upstreamSaw(w.get("/", alice))
	before := len(w.emu.Issued())
	time.Sleep(1100 * time.Millisecond)
	w.upstreamSaw(w.get("/", alice))
	if d := len(w.emu.Issued()) - before; d != 1 {
		t.Errorf("after the refresh margin: %d new exchanges, want 1", d)
	}

	// Three identities through a cache of two: going round again must
	// exchange anew for at least one of them.
	toks := []string{alice}
	for _, u := range []string{"bob", "root"} {
		tok, err := w.idp.MintFor(u, []string{"openid", "profile"})
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, tok)
	}
	for _, tok := range toks {
		w.upstreamSaw(w.get("/", tok))
	}
	before = len(w.emu.Issued())
	for _, tok := range toks {
		w.upstreamSaw(w.get("/", tok))
	}
	if len(w.emu.Issued()) == before {
		t.Error("three identities fit in a credential cache capped at two")
	}
}

// TestSTSOtherBackends runs `type aws` and `type token_exchange` through the
// gateway against small local services that answer as those services do.
func TestSTSOtherBackends(t *testing.T) {
	e := newEnv(t, demoidp.Options{})
	var awsForm, teForm url.Values
	var mu sync.Mutex
	aws := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		mu.Lock()
		awsForm = r.PostForm
		mu.Unlock()
		rw.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(rw, `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult>
<SubjectFromWebIdentityToken>2000000000000002</SubjectFromWebIdentityToken><Audience>edgeauth-demo</Audience>
<AssumedRoleUser><Arn>arn:aws:sts::111122223333:assumed-role/gw-role/gw-alice</Arn><AssumedRoleId>AROAFAKE:gw-alice</AssumedRoleId></AssumedRoleUser>
<Credentials><AccessKeyId>ASIAFAKEAWS</AccessKeyId><SecretAccessKey>aws-secret</SecretAccessKey><SessionToken>aws-session-token</SessionToken><Expiration>%s</Expiration></Credentials>
</AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>aws-req-1</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>`,
			time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	}))
	defer aws.Close()
	te := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		mu.Lock()
		teForm = r.PostForm
		mu.Unlock()
		if id, secret, ok := r.BasicAuth(); !ok || id != "gw" || secret != "gw-secret" {
			rw.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(rw, `{"error":"invalid_client"}`)
			return
		}
		rw.Header().Set("Content-Type", "application/json")
		fmt.Fprint(rw, `{"access_token":"exchanged-token","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"Bearer","expires_in":"300"}`)
	}))
	defer te.Close()

	e.start(e.globals(e.providerBlock("demo")+fmt.Sprintf(`
		sts aws {
			type aws
			endpoint %s
			role_arn arn:aws:iam::111122223333:role/gw-role
		}
		sts exchange {
			type token_exchange
			token_endpoint %s/token
			client_id gw
			client_secret gw-secret
			audience https://api.example.com
		}`, aws.URL, te.URL)) + fmt.Sprintf(`http://127.0.0.1:%d {
	route /aws/* {
		edgeauth demo {
			sts aws
		}
		reverse_proxy %s
	}
	route /exchange/* {
		edgeauth demo {
			sts exchange {
				header security_token X-Exchanged-Token
			}
		}
		reverse_proxy %s
	}
}
`, e.port, e.upstream, e.upstream))
	alice := e.aliceToken()
	waitFor(t, "keys", 10*time.Second, func() bool {
		resp, _ := e.get("/aws/x", alice)
		return resp.StatusCode != http.StatusServiceUnavailable
	})
	got := e.upstreamSaw(e.get("/aws/x", alice))
	if got.header("X-Sts-Access-Key-Id") != "ASIAFAKEAWS" || got.header("X-Sts-Access-Key-Secret") != "aws-secret" || got.header("X-Sts-Security-Token") != "aws-session-token" {
		t.Errorf("AWS credentials upstream: %v", got.Headers)
	}
	mu.Lock()
	if awsForm.Get("Action") != "AssumeRoleWithWebIdentity" || awsForm.Get("WebIdentityToken") != alice || awsForm.Get("RoleArn") != "arn:aws:iam::111122223333:role/gw-role" {
		t.Errorf("AWS request form: %v", awsForm)
	}
	mu.Unlock()

	got = e.upstreamSaw(e.get("/exchange/x", alice))
	if got.header("X-Exchanged-Token") != "exchanged-token" || got.header("X-Sts-Access-Key-Id") != "" {
		t.Errorf("token exchange upstream: %v", got.Headers)
	}
	mu.Lock()
	if teForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:token-exchange" || teForm.Get("subject_token") != alice || teForm.Get("audience") != "https://api.example.com" {
		t.Errorf("token exchange form: %v", teForm)
	}
	mu.Unlock()
}

// TestSTSOutageKeepsCachedIdentities: while the STS fails, identities with
// cached credentials keep working and new ones get 503 with Retry-After;
// when it comes back, the new ones get through without any restart.
func TestSTSOutageKeepsCachedIdentities(t *testing.T) {
	w := newSTSWorld(t, demoidp.Options{})
	w.startSTS("\t\tsts alibaba")
	alice := w.aliceToken()
	w.upstreamSaw(w.get("/", alice)) // cached from now on

	w.emu.SetFail5xx(1000)
	for i := 0; i < 3; i++ {
		w.upstreamSaw(w.get("/", alice))
	}
	bob, err := w.idp.MintFor("bob", []string{"openid", "profile"})
	if err != nil {
		t.Fatal(err)
	}
	resp, body := w.get("/", bob)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("a new identity while the STS fails: %d Retry-After %q; %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if !strings.Contains(string(body), `"error":"sts_unavailable"`) {
		t.Errorf("body %s, want error sts_unavailable", body)
	}
	assertSTSBody(t, body, "")

	w.emu.SetFail5xx(0)
	waitFor(t, "the STS to be used again", 10*time.Second, func() bool {
		resp, _ := w.get("/", bob)
		return resp.StatusCode == http.StatusOK
	})
	w.upstreamSaw(w.get("/", alice))
}
