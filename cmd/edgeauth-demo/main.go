// Command edgeauth-demo runs edgeauth end to end on loopback with nothing to
// configure: a demo OpenID provider (TLS, its own CA, Alibaba-style users), a
// whoami upstream that shows the headers it received, and Caddy with the
// edgeauth plugin in front of it, on an embedded Caddyfile. It prints the URL
// to open and ready-made curl lines with fresh bearer tokens.
//
//	go run ./cmd/edgeauth-demo [-listen 127.0.0.1:8080]
package main

import (
	"bytes"
	_ "embed"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/template"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/edgeauth/caddy-edgeauth"
	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
	"github.com/edgeauth/caddy-edgeauth/integration/whoami"
)

//go:embed Caddyfile.tmpl
var caddyfileTemplate string

// settings fill the embedded Caddyfile template.
type settings struct {
	Admin, Listen, BindHost, Upstream      string
	Issuer, ClientID, ClientSecret, CAFile string
	Thumbprint                             string
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "loopback address where Caddy listens")
	idpAddr := flag.String("idp", "127.0.0.1:9443", "loopback address of the demo OpenID provider")
	printConfig := flag.Bool("print-caddyfile", false, "print the generated Caddyfile")
	flag.Parse()
	if err := run(*listen, *idpAddr, *printConfig); err != nil {
		log.Fatalf("edgeauth-demo: %v", err)
	}
}

func run(listen, idpAddr string, printConfig bool) error {
	if err := requireLoopback(listen); err != nil {
		return err
	}
	if err := requireLoopback(idpAddr); err != nil {
		return err
	}
	idp, err := demoidp.New(demoidp.Options{Addr: idpAddr})
	if err != nil {
		return err
	}
	if err := idp.Start(); err != nil {
		return fmt.Errorf("starting the demo OpenID provider on %s: %v", idpAddr, err)
	}
	defer idp.Close()

	dir, err := os.MkdirTemp("", "edgeauth-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	caFile, err := idp.WriteCAFile(dir)
	if err != nil {
		return err
	}

	upstreamSrv, upstream, err := whoami.Start("127.0.0.1:0")
	if err != nil {
		return err
	}
	defer upstreamSrv.Close()

	cfg := settings{
		Admin:        "127.0.0.1:0",
		Listen:       listen,
		BindHost:     bindHost(listen),
		Upstream:     strings.TrimPrefix(upstream, "http://"),
		Issuer:       idp.Issuer(),
		ClientID:     demoidp.DefaultClientID,
		ClientSecret: demoidp.DefaultClientSecret,
		CAFile:       caFile,
		Thumbprint:   idp.CAThumbprint(),
	}
	caddyfile, err := render(cfg)
	if err != nil {
		return err
	}
	if printConfig {
		fmt.Println(caddyfile)
	}
	cfgJSON, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		return fmt.Errorf("adapting the embedded Caddyfile: %v", err)
	}
	if err := caddy.Load(cfgJSON, true); err != nil {
		return fmt.Errorf("starting Caddy: %v", err)
	}
	defer caddy.Stop() //nolint:errcheck

	if err := printWelcome(idp, listen); err != nil {
		return err
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
	fmt.Println("\nstopping")
	return nil
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

// printWelcome prints what to open and what to curl.
func printWelcome(idp *demoidp.Server, listen string) error {
	alice, err := idp.MintFor("alice", []string{"openid", "aliuid", "profile", "email", "/acs/alidns"})
	if err != nil {
		return err
	}
	bob, err := idp.MintFor("bob", []string{"openid", "aliuid", "profile", "email"})
	if err != nil {
		return err
	}
	base := "http://" + listen
	fmt.Printf(`
edgeauth demo is running (Ctrl-C to stop)

  gateway (Caddy + edgeauth)  %[1]s/
  demo OpenID provider        %[2]s
  users                       alice/alice-pass, bob/bob-pass, root/root-pass, ops/ops-pass

Call the protected app as alice (tokens are valid for one hour):

  curl -H 'Authorization: Bearer %[3]s' %[1]s/

alice may use /dns/* (she holds the /acs/alidns scope):

  curl -H 'Authorization: Bearer %[3]s' %[1]s/dns/records

bob lacks /acs/alidns, so the same route answers 403 insufficient_scope:

  curl -i -H 'Authorization: Bearer %[4]s' %[1]s/dns/records

Without a token the gateway answers 401:

  curl -i %[1]s/
`, base, idp.Issuer(), alice, bob)
	return nil
}

// bindHost is the host part of a listen address, for Caddy's default_bind.
func bindHost(addr string) string {
	host, _, _ := net.SplitHostPort(addr)
	return host
}

// requireLoopback refuses addresses that are not on a loopback interface: the
// demo is for one machine only.
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
