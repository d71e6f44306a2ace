// Command edgeauth-demo runs edgeauth end to end on loopback with nothing to
// configure: a demo OpenID provider, the Alibaba STS emulator, a whoami
// upstream and Caddy with the edgeauth plugin in front of it. It prints the
// URL to open and ready-made curl lines with fresh bearer tokens.
//
//	go run ./cmd/edgeauth-demo [-listen 127.0.0.1:8080] [-idp 127.0.0.1:9443]
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/edgeauth/caddy-edgeauth"
	"github.com/edgeauth/caddy-edgeauth/integration/demo"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "loopback address where Caddy listens")
	idp := flag.String("idp", "127.0.0.1:9443", "loopback address of the demo OpenID provider")
	printConfig := flag.Bool("print-caddyfile", false, "print the Caddyfile the demo runs")
	flag.Parse()

	d, err := demo.Start(demo.Options{Listen: *listen, IdP: *idp})
	if err != nil {
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
