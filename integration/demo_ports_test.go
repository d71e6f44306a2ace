package integration

import (
	"errors"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/edgeauth/caddy-edgeauth/integration/demo"
)

// TestDemoBusyPort occupies each of the demo's fixed addresses with a real
// listener and starts the demo on it: Start must fail (not panic) with an
// error that names the busy address and the flag that picks another.
func TestDemoBusyPort(t *testing.T) {
	for _, tc := range []struct {
		option string
		flag   string
		set    func(o *demo.Options, addr string)
	}{
		{"Listen", "-listen", func(o *demo.Options, a string) { o.Listen = a }},
		{"IdP", "-idp", func(o *demo.Options, a string) { o.IdP = a }},
		{"Admin", "-admin", func(o *demo.Options, a string) { o.Admin = a }},
	} {
		t.Run(tc.option, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			busy := ln.Addr().String()
			opts := demo.Options{
				Listen: net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t))),
				IdP:    net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t))),
			}
			tc.set(&opts, busy)
			d, err := demo.Start(opts)
			if err == nil {
				d.Close()
				t.Fatalf("the demo started with %s on the busy address %s", tc.option, busy)
			}
			var be *demo.AddrInUseError
			if !errors.As(err, &be) || be.Addr != busy || be.Option != tc.option {
				t.Fatalf("error %q (%T): want an *AddrInUseError for %s at %s", err, err, tc.option, busy)
			}
			if msg := err.Error(); !strings.Contains(msg, busy) || !strings.Contains(msg, "in use") {
				t.Errorf("error %q does not say that %s is in use", msg, busy)
			}
		})
	}
}

// TestDemoCommandBusyPort runs the built edgeauth-demo binary with its
// gateway port taken and with -h: it exits non-zero without a panic, names
// the address and the flag, and -h documents every address flag.
func TestDemoCommandBusyPort(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "edgeauth-demo")
	build := exec.Command("go", "build", "-o", bin, "./cmd/edgeauth-demo")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/edgeauth-demo: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := ln.Addr().String()
	out, err := exec.Command(bin, "-listen", busy, "-idp", net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("the demo did not fail with its port busy: %v\n%s", err, out)
	}
	if s := string(out); strings.Contains(s, "panic") || strings.Contains(s, "nil pointer") ||
		!strings.Contains(s, busy) || !strings.Contains(s, "-listen") {
		t.Errorf("want a message naming %s and -listen, without a panic; got:\n%s", busy, s)
	}
	help, _ := exec.Command(bin, "-h").CombinedOutput()
	for _, f := range []string{"-listen", "-idp", "-admin", "127.0.0.1:8080", "127.0.0.1:9443"} {
		if !strings.Contains(string(help), f) {
			t.Errorf("-h does not mention %s:\n%s", f, help)
		}
	}
}
