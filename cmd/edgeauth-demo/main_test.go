package main

import (
	"net"
	"regexp"
	"testing"

	"github.com/edgeauth/caddy-edgeauth/integration/demo"
)

// The message for a busy address names its flag and suggests a loopback
// address that is free, not a fixed one (which suggested 127.0.0.1:18080
// even when that was the busy address, and for -idp as well as -listen).
func TestBusyMessageSuggestsAFreeAddress(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for option, flag := range flagFor {
		msg := busyMessage(&demo.AddrInUseError{Option: option, Addr: busy.Addr().String()})
		m := regexp.MustCompile(`^edgeauth-demo: ` + regexp.QuoteMeta(busy.Addr().String()) + ` \(` + flag + `\) is already in use by another program; pick a free one with ` + flag + `, e\.g\. ` + flag + ` (127\.0\.0\.1:\d+)$`).FindStringSubmatch(msg)
		if m == nil {
			t.Fatalf("%s: unexpected message %q", option, msg)
		}
		if m[1] == busy.Addr().String() {
			t.Fatalf("%s: suggests the busy address: %q", option, msg)
		}
		l, err := net.Listen("tcp", m[1])
		if err != nil {
			t.Fatalf("%s: the suggested address is not free: %v", option, err)
		}
		l.Close()
	}
}
