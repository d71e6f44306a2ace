// Package demo runs edgeauth end to end on loopback with nothing to
// configure: a demo OpenID provider (TLS with its own CA, Alibaba-style
// users, a login page), the Alibaba STS emulator with that provider
// registered as a RAM OIDC identity provider, a whoami upstream, and Caddy
// with edgeauth in front of it on an embedded Caddyfile. The
// cmd/edgeauth-demo binary and the tests both start it from here.
package demo

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"text/template"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile" // the Caddyfile adapter

	"github.com/edgeauth/caddy-edgeauth/assertion"
	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
	"github.com/edgeauth/caddy-edgeauth/integration/stsemu"
	"github.com/edgeauth/caddy-edgeauth/integration/whoami"
	"github.com/edgeauth/caddy-edgeauth/module/endpoint"
	"github.com/edgeauth/caddy-edgeauth/module/session"
)

//go:embed Caddyfile.tmpl
var caddyfileTemplate string

// Options says where the demo listens; every address must be on loopback.
type Options struct {
	// Listen is Caddy's address. Default: 127.0.0.1:8080.
	Listen string
	// IdP is the demo OpenID provider's address. Default: 127.0.0.1:9443.
	IdP string
	// Admin is Caddy's admin address. Default: 127.0.0.1:0 (any port).
	Admin string
}

// Demo is a running demo.
type Demo struct {
	// URL is the gateway's base URL.
	URL string
	// IdP is the demo OpenID provider.
	IdP *demoidp.Server
	// STS is the Alibaba STS emulator.
	STS *stsemu.Server
	// Caddyfile is the configuration Caddy runs.
	Caddyfile string
	// Admin is Caddy's admin API base URL (the edgeauth admin endpoints and
	// /metrics), e.g. http://127.0.0.1:2019.
	Admin string
	// AccessLog is the file Caddy writes the gateway's access log to (JSON,
	// one line per request, user_id set for verified callers).
	AccessLog string

	dir      string
	caFile   string
	upstream *http.Server
}

// settings fill the embedded Caddyfile template.
type settings struct {
	Admin, Listen, BindHost, Upstream      string
	Issuer, ClientID, ClientSecret, CAFile string
	Thumbprint, SessionSecret, AccessLog   string
	STSEndpoint, ProviderARN, RoleARN      string
	// AssertionIssuer and AssertionAudience are what whoami verifies the
	// identity assertion against: both the gateway's URL.
	AssertionIssuer, AssertionAudience string
}

// Start starts every part and loads Caddy. Close stops them. A busy
// address is an *AddrInUseError; on any error, what had started is stopped.
func Start(opts Options) (*Demo, error) {
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:8080"
	}
	if opts.IdP == "" {
		opts.IdP = "127.0.0.1:9443"
	}
	if opts.Admin == "" {
		opts.Admin = "127.0.0.1:0"
	}
	for _, addr := range []string{opts.Listen, opts.IdP, opts.Admin} {
		if err := requireLoopback(addr); err != nil {
			return nil, err
		}
	}
	if err := checkFree(opts); err != nil {
		return nil, err
	}
	var err error
	if opts.Admin, err = pickPort(opts.Admin); err != nil {
		return nil, err
	}
	d := &Demo{URL: "http://" + opts.Listen}
	if err := d.start(opts); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// start starts the parts one by one, recording each in d so that Close
// stops what started.
func (d *Demo) start(opts Options) (err error) {
	if d.IdP, err = demoidp.New(demoidp.Options{Addr: opts.IdP}); err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return &AddrInUseError{Option: "IdP", Addr: opts.IdP}
		}
		return err
	}
	if err = d.IdP.Start(); err != nil {
		return fmt.Errorf("starting the demo OpenID provider on %s: %v", opts.IdP, err)
	}
	if d.dir, err = os.MkdirTemp("", "edgeauth-demo-"); err != nil {
		return err
	}
	caFile, err := d.IdP.WriteCAFile(d.dir)
	if err != nil {
		return err
	}
	d.caFile = caFile
	d.AccessLog = filepath.Join(d.dir, "access.log")
	d.Admin = "http://" + opts.Admin

	d.STS = stsemu.New(stsemu.Options{HTTPClient: d.IdP.Client()})
	d.STS.Start()
	prov, err := d.STS.CreateProvider(stsemu.Provider{
		Name:         "edgeauth-demo",
		IssuerURL:    d.IdP.Issuer(),
		ClientIDs:    []string{demoidp.DefaultClientID},
		Fingerprints: []string{d.IdP.CAThumbprint()},
		Description:  "the demo OpenID provider, registered as a RAM OIDC identity provider",
	})
	if err != nil {
		return fmt.Errorf("registering the demo provider at the STS emulator: %v", err)
	}
	role, err := d.STS.CreateRole("demo-app-reader", stsemu.OIDCTrust(prov.Arn, d.IdP.Issuer(), demoidp.DefaultClientID, ""), 0)
	if err != nil {
		return fmt.Errorf("creating the demo role: %v", err)
	}

	// whoami checks the gateway's signed identity assertion: the gateway
	// is its issuer (keys from its discovery document) and its own URL the
	// audience. Keys load on the first request that carries an assertion.
	verifier, err := assertion.NewVerifier(d.URL, d.URL)
	if err != nil {
		return fmt.Errorf("the demo upstream's assertion verifier: %v", err)
	}
	var upstream string
	if d.upstream, upstream, err = whoami.StartWith("127.0.0.1:0", whoami.Options{LogoutPath: "/oauth2/logout", Assertion: verifier}); err != nil {
		return err
	}

	d.Caddyfile, err = render(settings{
		Admin:         opts.Admin,
		Listen:        opts.Listen,
		BindHost:      hostOf(opts.Listen),
		Upstream:      strings.TrimPrefix(upstream, "http://"),
		Issuer:        d.IdP.Issuer(),
		ClientID:      demoidp.DefaultClientID,
		ClientSecret:  demoidp.DefaultClientSecret,
		CAFile:        caFile,
		Thumbprint:    d.IdP.CAThumbprint(),
		SessionSecret: fmt.Sprintf("%x", session.RandomSecret()),
		STSEndpoint:   d.STS.URL(),
		ProviderARN:   prov.Arn,
		RoleARN:       role.Arn,
		AccessLog:     d.AccessLog,

		// The gateway signs assertions with its own URL as issuer, which
		// may be plain http only on a loopback address; a demo listening
		// elsewhere runs without them (whoami then says so).
		AssertionIssuer:   assertionURL(opts.Listen, d.URL),
		AssertionAudience: assertionURL(opts.Listen, d.URL),
	})
	if err != nil {
		return err
	}
	cfgJSON, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(d.Caddyfile), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		return fmt.Errorf("adapting the embedded Caddyfile: %v", err)
	}
	if err := caddy.Load(cfgJSON, true); err != nil {
		// Caddy flattens the listener's error into text; the port may have
		// been taken since checkFree.
		if msg := err.Error(); strings.Contains(msg, "address already in use") {
			if strings.Contains(msg, opts.Admin) {
				return &AddrInUseError{Option: "Admin", Addr: opts.Admin}
			}
			return &AddrInUseError{Option: "Listen", Addr: opts.Listen}
		}
		return fmt.Errorf("starting Caddy: %v", err)
	}
	return nil
}

// Close stops Caddy and every part of the demo. It is safe on a nil Demo.
func (d *Demo) Close() {
	if d == nil {
		return
	}
	_ = caddy.Stop()
	if d.upstream != nil {
		_ = d.upstream.Close()
	}
	if d.STS != nil {
		d.STS.Close()
	}
	if d.IdP != nil {
		_ = d.IdP.Close()
	}
	if d.dir != "" {
		_ = os.RemoveAll(d.dir)
	}
}

// Tokens mints the demo's bearer tokens: alice (who holds /acs/alidns) and
// bob (who does not).
func (d *Demo) Tokens() (alice, bob string, err error) {
	if alice, err = d.IdP.MintFor("alice", []string{"openid", "aliuid", "profile", "email", "/acs/alidns"}); err != nil {
		return "", "", err
	}
	bob, err = d.IdP.MintFor("bob", []string{"openid", "aliuid", "profile", "email"})
	return alice, bob, err
}

// Welcome is the text the demo prints: what to open and what to curl.
func (d *Demo) Welcome() (string, error) {
	alice, bob, err := d.Tokens()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf(`
edgeauth demo is running (Ctrl-C to stop)

  gateway (Caddy + edgeauth)  %[1]s/
  demo OpenID provider        %[2]s
  Alibaba STS emulator        %[5]s
  Caddy admin API             %[7]s
  access log                  %[8]s
  users                       alice/alice-pass, bob/bob-pass, root/root-pass, ops/ops-pass

Open %[1]s/ in a browser and sign in: the app shows the identity headers
and the temporary STS credentials it received. The demo provider's TLS
certificate comes from its own CA, so the browser warns once about
%[2]s: accept it (or trust %[6]s).
The app's page links "Sign out" (%[1]s/oauth2/logout).

Or call it as alice with a bearer token (valid for one hour):

  curl -H 'Authorization: Bearer %[3]s' %[1]s/

alice may use /dns/* (she holds the /acs/alidns scope):

  curl -H 'Authorization: Bearer %[3]s' %[1]s/dns/records

bob lacks /acs/alidns, so the same route answers 403 insufficient_scope:

  curl -i -H 'Authorization: Bearer %[4]s' %[1]s/dns/records

Without a token the gateway answers 401:

  curl -i %[1]s/

What edgeauth knows about its provider, and its metrics (README
"Observability"), on Caddy's admin API:

  curl -s %[7]s/edgeauth/providers
  curl -s %[7]s/metrics | grep caddy_edgeauth_

Every request is in the access log (JSON), with user_id for each caller
whose credential edgeauth verified:

  tail -f %[8]s
`, d.URL, d.IdP.Issuer(), alice, bob, d.STS.URL(), d.caFile, d.Admin, d.AccessLog), nil
}

func render(s settings) (string, error) {
	tmpl, err := template.New("Caddyfile").Parse(caddyfileTemplate)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, s); err != nil {
		return "", err
	}
	return b.String(), nil
}

// hostOf is the host part of a listen address, for Caddy's default_bind.
// assertionURL is url when the demo listens on a loopback host, else "".
func assertionURL(listen, url string) string {
	if endpoint.IsLoopbackHost(hostOf(listen)) {
		return url
	}
	return ""
}

func hostOf(addr string) string {
	host, _, _ := net.SplitHostPort(addr)
	return host
}

// pickPort turns a port-0 address into a concrete free one, so that the
// demo can print where its admin API listens.
func pickPort(addr string) (string, error) {
	if _, port, _ := net.SplitHostPort(addr); port != "0" {
		return addr, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("finding a free port for %s: %v", addr, err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// requireLoopback refuses addresses that are not on a loopback interface:
// the demo is for one machine only.
func requireLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %v", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("address %q: the demo listens on loopback only (127.0.0.1 or [::1])", addr)
	}
	return nil
}
