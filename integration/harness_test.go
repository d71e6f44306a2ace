// Package integration holds edgeauth's end-to-end tests: a real Caddy
// in-process with the plugin, real HTTP servers on loopback (the demo OpenID
// provider over TLS, the whoami upstream, the STS emulator), a third-party
// OpenID provider library and a real headless browser. Caddy is one per
// process, so these tests never run in parallel.
package integration

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/edgeauth/caddy-edgeauth"
	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
	"github.com/edgeauth/caddy-edgeauth/integration/whoami"
)

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// adapt turns a Caddyfile into Caddy JSON.
func adapt(t testing.TB, caddyfile string) []byte {
	t.Helper()
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		t.Fatalf("adapting the Caddyfile: %v\n%s", err, caddyfile)
	}
	return cfg
}

// loadCaddy runs (or reloads) the in-process Caddy with a JSON config and
// stops it when the test ends.
func loadCaddy(t testing.TB, cfgJSON []byte) {
	t.Helper()
	if err := caddy.Load(cfgJSON, true); err != nil {
		t.Fatalf("loading the config: %v", err)
	}
	t.Cleanup(func() { _ = caddy.Stop() })
}

// loadError returns the error Caddy gives when loading (provisioning and
// validating) a Caddyfile, or "" when it loads.
func loadError(t testing.TB, caddyfile string) string {
	t.Helper()
	cfgJSON, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		return err.Error()
	}
	var cfg caddy.Config
	if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
		t.Fatal(err)
	}
	if err := caddy.Validate(&cfg); err != nil {
		return err.Error()
	}
	return ""
}

// env is one running test world: a demo OpenID provider over TLS on
// loopback, a whoami upstream and (after start) Caddy with edgeauth in front.
type env struct {
	t        testing.TB
	idp      *demoidp.Server
	caFile   string
	upstream string // host:port of whoami
	port     int    // Caddy's HTTP port
	admin    int    // Caddy's admin port
	client   *http.Client
	// serverOpts go into the Caddyfile's `servers` global block. By default
	// the header limit is widened past Caddy's 16 KiB so that edgeauth's own
	// limits are what the tests meet.
	serverOpts []string
	// logOpts go into the default `log` block; by default only warnings.
	logOpts []string
}

// newEnv starts the demo provider and the upstream.
func newEnv(t testing.TB, opts demoidp.Options) *env {
	t.Helper()
	idp, err := demoidp.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := idp.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idp.Close() })
	caFile, err := idp.WriteCAFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv, base, err := whoami.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	// A transport of its own: the shared default one keeps idle connections
	// per host:port, and when the OS hands this test a port an earlier
	// test's Caddy used, such a connection still reaches that old server
	// (Caddy lets old servers finish their connections), with the old config.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(transport.CloseIdleConnections)
	return &env{
		t:          t,
		idp:        idp,
		caFile:     caFile,
		upstream:   strings.TrimPrefix(base, "http://"),
		port:       freePort(t),
		admin:      freePort(t),
		serverOpts: []string{"max_header_size 64KB"},
		logOpts:    []string{"level WARN"},
		client: &http.Client{
			Transport:     reloadSafe{transport},
			Timeout:       10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// globals returns the Caddyfile global options block with the given edgeauth
// body (provider blocks and so on).
func (e *env) globals(edgeauthBody string) string {
	return fmt.Sprintf(`{
	admin 127.0.0.1:%d
	persist_config off
	auto_https off
	default_bind 127.0.0.1
	skip_install_trust
	log {
		%s
	}
	servers {
		%s
	}
	edgeauth {
%s
	}
}
`, e.admin, strings.Join(e.logOpts, "\n\t\t"), strings.Join(e.serverOpts, "\n\t\t"), edgeauthBody)
}

// providerBlock is the demo provider's block, with extra lines.
func (e *env) providerBlock(name string, extra ...string) string {
	return fmt.Sprintf(`		provider %s {
			issuer %s
			client_id %s
			client_secret %s
			tls_ca %s
			%s
		}`, name, e.idp.Issuer(), demoidp.DefaultClientID, demoidp.DefaultClientSecret, e.caFile, strings.Join(extra, "\n\t\t\t"))
}

// site returns a site block on Caddy's port with the given edgeauth
// directive line and body, proxying to whoami.
func (e *env) site(directive, body string) string {
	return fmt.Sprintf(`http://127.0.0.1:%d {
	%s {
%s
	}
	reverse_proxy %s
}
`, e.port, directive, body, e.upstream)
}

// start adapts and loads a Caddyfile.
func (e *env) start(caddyfile string) {
	e.t.Helper()
	loadCaddy(e.t, adapt(e.t, caddyfile))
}

// url is Caddy's URL for a path.
func (e *env) url(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", e.port, path)
}

// do sends a request to Caddy and returns the response with its body read.
func (e *env) do(req *http.Request) (*http.Response, []byte) {
	e.t.Helper()
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, body
}

// get sends GET path with an optional bearer token and extra headers
// ("Name: value").
func (e *env) get(path, bearer string, headers ...string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.url(path), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header[name] = append(req.Header[name], strings.TrimSpace(value))
	}
	return e.do(req)
}

// rawGet sends a request line with the path exactly as written (no client
// cleaning, no absolute form) and returns the status and body.
func (e *env) rawGet(path string) (int, string) {
	e.t.Helper()
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", e.port), 5*time.Second)
	if err != nil {
		e.t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n", path, e.port)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// echo is what the whoami upstream reports about a request it received.
type echo struct {
	Method  string              `json:"method"`
	Path    string              `json:"path"`
	Headers map[string][]string `json:"headers"`
}

// header returns the first value of a received header (canonical name).
func (e echo) header(name string) string {
	for k, v := range e.Headers {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

// upstreamSaw decodes the whoami answer; it fails the test unless the
// request reached the upstream with 200.
func (e *env) upstreamSaw(resp *http.Response, body []byte) echo {
	e.t.Helper()
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("status %d, want 200 from the upstream; body: %s", resp.StatusCode, body)
	}
	var got echo
	if err := json.Unmarshal(body, &got); err != nil {
		e.t.Fatalf("upstream answer is not whoami JSON: %v: %s", err, body)
	}
	return got
}

// mint signs a token at the demo provider, failing the test on error.
func (e *env) mint(claims map[string]any, opts ...demoidp.MintOption) string {
	e.t.Helper()
	tok, err := e.idp.Mint(claims, opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", timeout, what)
}

// writeFile writes a file in a test's temp dir and returns its path.
func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// reloadSafe retries a request once when the connection broke before an
// answer (EOF, reset) and the request can be sent again. Caddy replaces its
// listener on every config load, and a connection caught in that moment is
// reset by the kernel — Caddy's behaviour, not edgeauth's (see the soak
// test) — which would make tests that reload flaky.
type reloadSafe struct{ base http.RoundTripper }

func (rs reloadSafe) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := rs.base.RoundTrip(req)
	if err == nil || !brokenConnection(err) || (req.Body != nil && req.GetBody == nil) {
		return resp, err
	}
	again := req.Clone(req.Context())
	if req.GetBody != nil {
		if again.Body, err = req.GetBody(); err != nil {
			return nil, err
		}
	}
	time.Sleep(50 * time.Millisecond)
	return rs.base.RoundTrip(again)
}

// brokenConnection reports whether err means the connection went away.
func brokenConnection(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}
