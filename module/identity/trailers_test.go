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

// TestStripTrailers sends a chunked request with trailers to a real server
// whose handler calls StripTrailers and then reads the body, as a proxy does.
func TestStripTrailers(t *testing.T) {
	h := mustHeaders(t, []HeaderSpec{{Name: "X-Login", Value: "{http.auth.user.upn}"}}, nil)
	got := make(chan http.Header, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.StripTrailers(r)
		if r.Trailer.Get("X-Auth-Subject") != "" {
			t.Errorf("a declared identity trailer survived before the body was read: %v", r.Trailer)
		}
		if _, err := io.ReadAll(r.Body); err != nil {
			t.Error(err)
		}
		got <- r.Trailer.Clone()
	}))
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: X-Auth-Subject, X-Checksum\r\n\r\n"+
		"1\r\na\r\n0\r\nX-Auth-Subject: evil\r\nx_login: evil\r\nX.Sts.Anything: evil\r\nX-Checksum: 42\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	tr := <-got
	if len(tr) != 1 || tr.Get("X-Checksum") != "42" {
		t.Errorf("trailers after the body: %v, want only X-Checksum", tr)
	}

	// No body: nothing is wrapped.
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	h.StripTrailers(r)
	if r.Body != http.NoBody {
		t.Errorf("a request without a body got a wrapped body: %T", r.Body)
	}
}
