package demo

import (
	"errors"
	"fmt"
	"net"
	"syscall"
)

// AddrInUseError says that one of the demo's addresses is taken by another
// program. Option names the Options field (Listen, IdP or Admin), so that a
// command can name the flag that picks another address.
type AddrInUseError struct {
	// Option is the Options field whose address is busy.
	Option string
	// Addr is the busy address.
	Addr string
}

// Error names the address and the option.
func (e *AddrInUseError) Error() string {
	return fmt.Sprintf("%s is in use by another program; choose another address for %s", e.Addr, e.Option)
}

// checkFree listens on every fixed address (port 0 is skipped) and closes
// at once, so that a busy port is reported before anything starts, with the
// option that sets it.
func checkFree(opts Options) error {
	for _, a := range []struct{ option, addr string }{
		{"Listen", opts.Listen}, {"IdP", opts.IdP}, {"Admin", opts.Admin},
	} {
		if _, port, err := net.SplitHostPort(a.addr); err == nil && port == "0" {
			continue
		}
		ln, err := net.Listen("tcp", a.addr)
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				return &AddrInUseError{Option: a.option, Addr: a.addr}
			}
			return fmt.Errorf("%s address %s: %v", a.option, a.addr, err)
		}
		_ = ln.Close()
	}
	return nil
}
