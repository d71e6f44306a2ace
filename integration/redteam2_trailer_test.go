package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// TestRedTeam2RelayRouteTrailerAuthorization: with pass_access_token the
// README promises that the upstream's Authorization is only ever a verified
// bearer token or the session's own access token. A session request's
// client-sent `Authorization` *trailer* reaches the upstream next to the
// relayed header (StripTrailers removes identity names only), so an upstream
// (or a framework) that folds trailers into headers reads the client's value.
func TestRedTeam2RelayRouteTrailerAuthorization(t *testing.T) {
	e := newEnv(t, demoidp.Options{AutoApprove: true})
	var mu sync.Mutex
	var lastHeader, lastTrailer http.Header
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		mu.Lock()
		lastHeader, lastTrailer = r.Header.Clone(), r.Trailer.Clone()
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"method":"`+r.Method+`","path":"`+r.URL.Path+`","headers":{}}`)
	}))
	t.Cleanup(up.Close)
	e.upstream = strings.TrimPrefix(up.URL, "http://")
	e.startLogin(loginOpts{login: "param login_hint alice", rules: "\t\tpass_access_token\n"})
	b := e.newCookieClient("")
	b.login("/")
	u, _ := url.Parse(e.url("/"))
	var cookies []string
	for _, c := range b.jar.Cookies(u) {
		cookies = append(cookies, c.Name+"="+c.Value)
	}

	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", e.port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "POST /x HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nCookie: %s\r\nAccept: application/json\r\n"+
		"Transfer-Encoding: chunked\r\nTrailer: Authorization\r\nTE: trailers\r\n\r\n"+
		"3\r\nabc\r\n0\r\nAuthorization: Bearer forged.by.client\r\n\r\n", e.port, strings.Join(cookies, "; "))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.HasPrefix(lastHeader.Get("Authorization"), "Bearer ") {
		t.Fatalf("the session's token was not relayed: %q", lastHeader.Get("Authorization"))
	}
	if v := lastTrailer.Get("Authorization"); v != "" {
		t.Errorf("a client Authorization trailer reached the upstream of a pass_access_token route: %q (header: the session's token)", v)
	}
}
