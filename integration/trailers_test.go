package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// TestRequestTrailersCannotForgeIdentity: a chunked request whose trailer
// section carries identity fields (declared in Trailer or not, in any
// spelling) reaches the upstream without them, on public and protected
// routes; other trailers pass.
func TestRequestTrailersCannotForgeIdentity(t *testing.T) {
	e := newEnv(t, demoidp.Options{})
	type seen struct {
		header  http.Header
		trailer http.Header
		body    string
	}
	got := make(chan seen, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{header: r.Header.Clone(), trailer: r.Trailer.Clone(), body: string(b)}
	}))
	t.Cleanup(up.Close)
	e.upstream = strings.TrimPrefix(up.URL, "http://")
	e.start(e.globals(e.providerBlock("demo")) + e.site("edgeauth demo", "\t\tpublic /public/*"))
	alice := e.aliceToken()
	waitFor(t, "the provider's keys", 10*time.Second, func() bool {
		resp, _ := e.get("/", alice)
		if resp.StatusCode == http.StatusOK {
			<-got
			return true
		}
		return false
	})
	for _, path := range []string{"/public/x", "/orders"} {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", e.port), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer %s\r\n"+
			"Transfer-Encoding: chunked\r\nTrailer: X-Auth-Subject, X-Checksum\r\nTE: trailers\r\n\r\n"+
			"3\r\nabc\r\n0\r\nX-Auth-Subject: evil\r\nx_sts_access_key_id: evil\r\nX-Sts-Security-Token: evil\r\nX-Checksum: 42\r\n\r\n",
			path, e.port, alice)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		resp.Body.Close()
		conn.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", path, resp.StatusCode)
		}
		var s seen
		select {
		case s = <-got:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: the upstream saw no request", path)
		}
		if s.body != "abc" {
			t.Errorf("%s: upstream body %q", path, s.body)
		}
		for name, values := range s.trailer {
			for _, v := range values {
				if v == "evil" {
					t.Errorf("%s: forged trailer %s: %s reached the upstream", path, name, v)
				}
			}
		}
		if s.trailer.Get("X-Checksum") != "42" {
			t.Errorf("%s: the harmless trailer was lost: %v", path, s.trailer)
		}
		if path == "/orders" && s.header.Get("X-Auth-Subject") != "2000000000000002" {
			t.Errorf("%s: X-Auth-Subject = %q", path, s.header.Get("X-Auth-Subject"))
		}
	}
}
