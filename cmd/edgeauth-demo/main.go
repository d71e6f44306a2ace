// Command edgeauth-demo runs edgeauth end to end on loopback with nothing to
// configure: a demo OpenID provider, the Alibaba STS emulator, a whoami
// upstream and Caddy with the edgeauth plugin in front of it. It prints the
// URL to open and ready-made curl lines with fresh bearer tokens.
//
//	go run ./cmd/edgeauth-demo [-listen 127.0.0.1:8080] [-idp 127.0.0.1:9443] [-admin 127.0.0.1:0]
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/edgeauth/caddy-edgeauth"
	"github.com/edgeauth/caddy-edgeauth/integration/demo"
)

// flagFor maps a demo.Options field to the flag that sets it.
var flagFor = map[string]string{"Listen": "-listen", "IdP": "-idp", "Admin": "-admin"}

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "loopback `address` where Caddy (the gateway) listens")
	idp := flag.String("idp", "127.0.0.1:9443", "loopback `address` of the demo OpenID provider")
	admin := flag.String("admin", "127.0.0.1:0", "loopback `address` of Caddy's admin API (port 0: any free port)")
	printConfig := flag.Bool("print-caddyfile", false, "print the Caddyfile the demo runs")
	flag.Usage = func() {
		out := flag.CommandLine.Output()
		fmt.Fprintf(out, "Usage: edgeauth-demo [flags]\n\nRuns the demo provider, the STS emulator, an upstream and Caddy with edgeauth on loopback.\nEvery address must be on loopback; pick other ports with the flags when these are taken.\n\nFlags:\n")
		flag.PrintDefaults()
	}
	flag.Parse()

	d, err := demo.Start(demo.Options{Listen: *listen, IdP: *idp, Admin: *admin})
	if err != nil {
		var busy *demo.AddrInUseError
		if errors.As(err, &busy) {
			// Plain text on stderr: Caddy's modules route the log package
			// through its JSON logger at level info.
			fmt.Fprintln(os.Stderr, busyMessage(busy))
			os.Exit(1)
		}
		log.Fatalf("edgeauth-demo: %v", err)
	}
	defer d.Close()
	if *printConfig {
		fmt.Println(d.Caddyfile)
	}
	welcome, err := d.Welcome()
	if err != nil {
		log.Fatalf("edgeauth-demo: %v", err)
	}
	fmt.Print(welcome)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
	fmt.Println("\nstopping")
}

// busyMessage names the busy address and its flag, and suggests a loopback
// address that is free right now (never the busy one, and never one fixed
// suggestion that may itself be taken or collide with another flag).
func busyMessage(busy *demo.AddrInUseError) string {
	f := flagFor[busy.Option]
	msg := fmt.Sprintf("edgeauth-demo: %s (%s) is already in use by another program; pick a free one with %s", busy.Addr, f, f)
	if l, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		msg += fmt.Sprintf(", e.g. %s %s", f, l.Addr())
		l.Close()
	}
	return msg
}
