package whoami

import (
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"time"
)

// Start serves Handler on addr (default "127.0.0.1:0", a free loopback port)
// in the background and returns the server (Close it when done) and its base
// URL, e.g. http://127.0.0.1:43125.
func Start(addr string) (*http.Server, string, error) { return StartWith(addr, Options{}) }

// StartWith is Start with handler options.
func StartWith(addr string, opts Options) (*http.Server, string, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("whoami: listening on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: HandlerWith(opts), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Printf("whoami: serve: %v", err)
		}
	}()
	return srv, "http://" + ln.Addr().String(), nil
}
