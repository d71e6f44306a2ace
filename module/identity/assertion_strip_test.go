package identity

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// X-Auth-Assertion is stripped by its name, not only by the X-Auth- prefix:
// with other strip prefixes, and with the default header removed, a client's
// copy in the headers (any spelling, or named in Connection) or in the
// trailers never survives.
func TestAssertionHeaderStrippedByName(t *testing.T) {
	for _, specs := range [][]HeaderSpec{nil, {{Name: "-X-Auth-Assertion"}}} {
		h := mustHeaders(t, specs, []string{"X-Custom-"})
		hdr := http.Header{"X-Auth-Assertion": {"forged"}, "x_auth_assertion": {"forged"}, "X.AUTH.ASSERTION": {"forged"},
			"Connection": {"X-Auth-Assertion, keep-alive"}}
		h.Strip(hdr)
		KeepConnectionOptions(hdr)
		for k, v := range hdr {
			if k != "Connection" {
				t.Errorf("specs %v: %s: %v survived", specs, k, v)
			}
		}
		if got := hdr.Get("Connection"); got != "keep-alive" {
			t.Errorf("Connection %q, want only keep-alive", got)
		}

		got := make(chan http.Header, 1)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.StripTrailers(r)
			_, _ = io.ReadAll(r.Body)
			got <- r.Trailer.Clone()
		}))
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(conn, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: X-Auth-Assertion\r\n\r\n"+
			"1\r\na\r\n0\r\nX-Auth-Assertion: forged\r\nx_auth_assertion: forged\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if tr := <-got; len(tr) != 0 {
			t.Errorf("specs %v: trailers %v survived", specs, tr)
		}
		conn.Close()
		srv.Close()
	}
}
