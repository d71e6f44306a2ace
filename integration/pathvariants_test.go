package integration

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// pathRecorder is an upstream that records the request target of every
// request it receives, byte for byte, and answers 200 "upstream".
type pathRecorder struct {
	mu   sync.Mutex
	seen []string
	addr string
}

// startPathRecorder starts a pathRecorder on loopback.
func startPathRecorder(t *testing.T) *pathRecorder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec := &pathRecorder{addr: ln.Addr().String()}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.seen = append(rec.seen, r.RequestURI)
		rec.mu.Unlock()
		_, _ = io.WriteString(w, "upstream")
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return rec
}

// targets returns what the recorder has seen so far.
func (p *pathRecorder) targets() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

// rawRequest sends one HTTP/1.1 request whose request target is written
// exactly as given (no client cleaning or re-encoding) and returns the
// status and body.
func (e *env) rawRequest(method, target string, headers ...string) (int, string) {
	e.t.Helper()
	lines := append([]string{
		fmt.Sprintf("%s %s HTTP/1.1", method, target),
		fmt.Sprintf("Host: 127.0.0.1:%d", e.port),
		"Connection: close",
	}, headers...)
	a := e.rawRequests(strings.Join(append(lines, "Content-Length: 0"), "\r\n"))[0]
	return a.status, string(a.body)
}

// TestFinding6PathVariantsNeverReachUpstream: on a route whose /dns/* needs
// a scope the caller lacks, no spelling of the path that an upstream may
// read as /dns/… (backslashes, encoded separators, control bytes, trailing
// dots and spaces, dot segments, overlong UTF-8, double escapes, NTFS stream
// and 8.3 names) reaches the upstream: each gets 400 before any rule is
// evaluated, on public routes and the login endpoints too. Ordinary paths
// with legitimate escapes still arrive unchanged.
func TestFinding6PathVariantsNeverReachUpstream(t *testing.T) {
	e := newEnv(t, demoidp.Options{AutoApprove: true})
	rec := startPathRecorder(t)
	prov := e.providerBlock("demo", "scopes openid profile")
	e.start(e.globals(prov+"\n\t\tsession {\n\t\t\tsecret "+secretNew+"\n\t\t}") + fmt.Sprintf(`http://127.0.0.1:%d {
	edgeauth demo {
		login
		public /public/*
		scope /dns/* /acs/alidns
		scope /longrecords/* /acs/alidns
	}
	reverse_proxy %s
}
`, e.port, rec.addr))
	noScope, err := e.idp.MintFor("alice", []string{"openid", "profile"})
	if err != nil {
		t.Fatal(err)
	}
	withScope, err := e.idp.MintFor("alice", []string{"openid", "profile", "/acs/alidns"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the provider's keys", 10*time.Second, func() bool {
		status, _ := e.rawRequest("GET", "/dns/records", "Authorization: Bearer "+withScope)
		return status == http.StatusOK
	})
	before := len(rec.targets())

	// Each of these must be refused with 400 and never reach the upstream.
	// goRefuses marks request lines Go's HTTP server itself refuses (a plain
	// 400 before Caddy runs).
	variants := []struct {
		target    string
		goRefuses bool
	}{
		{`/dns\records`, false},
		{`/dns%5crecords`, false},
		{`/dns%5Crecords`, false},
		{`/dns%00/records`, false},
		{`/dns%20/records`, false},
		{`/dns%09/records`, false},
		{`/dns%0d%0a/records`, false},
		{`/dns%1f/records`, false},
		{`/dns%7f/records`, false},
		{`/dns./records`, false},
		{`/dns.../records`, false},
		{`/dns%2e/records`, false},
		{`/dns.%20/records`, false},
		{`/dns;x./records`, false},
		{`/dns.;x/records`, false},
		{`/dns%2frecords`, false},
		{`/dns%2Frecords`, false},
		{`/dns/./records`, false},
		{`/dns/records/.`, false},
		{`/public/../dns/records`, false},
		{`/public/%2e%2e/dns/records`, false},
		{`/public/.%2e/dns/records`, false},
		{`/dns//../public/x`, false},
		{`/public/..%2fdns/records`, false},
		{`/dns%c0%afrecords`, false},
		{`/dns%e0%80%afrecords`, false},
		{`/dns%c0%ae/records`, false},
		{`/dns%ff/records`, false},
		{`/dns%252frecords`, false},
		{`/dns%255crecords`, false},
		{`/dns::$INDEX_ALLOCATION/records`, false},
		{`/dns/records::$DATA`, false},
		{`/LONGRE~1/x`, false},
		{`/public/a%5cb`, false},
		{`/public/a%00`, false},
		{`/public/x./y`, false},
		{`/oauth2%2flogout`, false},
		{`/oauth2%2Fuserinfo`, false},
		{`/oauth2\logout`, false},
		{`/oauth2/./logout`, false},
		{`/oauth2/logout%00`, false},
		{`/oauth2./logout`, false},
		{`/oauth2%2fbackchannel_logout`, false},
		{`/dns%u005crecords`, true},
		{"/dns\x00/records", true},
		{"/dns\x7f/records", true},
		{"/dns\t/records", true},
	}
	for _, v := range variants {
		for _, auth := range []string{"Authorization: Bearer " + noScope, "Accept: application/json"} {
			status, body := e.rawRequest("GET", v.target, auth)
			if status != http.StatusBadRequest {
				t.Errorf("%q (%s): status %d, want 400; body %.200s", v.target, strings.SplitN(auth, ":", 2)[0], status, body)
				continue
			}
			if !v.goRefuses && !strings.Contains(body, `"error":"invalid_request"`) {
				t.Errorf("%q: body %.200s, want a JSON invalid_request error", v.target, body)
			}
		}
	}
	// Also for other methods: a POST to the logout endpoint through an
	// encoded slash must not log anyone out (nor reach the upstream).
	if status, _ := e.rawRequest("POST", "/oauth2%2flogout"); status != http.StatusBadRequest {
		t.Errorf("POST /oauth2%%2flogout: %d, want 400", status)
	}
	if got := rec.targets()[before:]; len(got) != 0 {
		t.Errorf("refused variants reached the upstream as %q", got)
	}

	// Spellings Caddy's matcher already reads as /dns/… are refused by the
	// scope rule (case-insensitive, merged slashes, ;params, escaped letters).
	for _, p := range []string{"/DNS/records", "/Dns/records", "/dns//records", "//dns/records", "/dns;x/records", "/%64ns/records", "/dns/records/"} {
		if status, body := e.rawRequest("GET", p, "Authorization: Bearer "+noScope); status != http.StatusForbidden {
			t.Errorf("%q without the scope: %d, want 403; %.200s", p, status, body)
		}
	}
	if got := rec.targets()[before:]; len(got) != 0 {
		t.Errorf("paths the scope rule covers reached the upstream without the scope as %q", got)
	}

	// Ordinary paths, legitimate escapes included, arrive unchanged.
	for _, p := range []string{
		"/dns/records", "/dns/a%20b", "/dns/caf%C3%A9", "/dns/%E2%82%AC", "/dns/a%2Bb", "/dns/a+b",
		"/dns/v1.2/x", "/dns/.well-known/x", "/dns/a%25", "/dns/100%25.txt", "/dns/a;b=c/d", "/dns/records/",
		"/dns/x:y", "/dns/~user", "/dns//records",
	} {
		n := len(rec.targets())
		status, body := e.rawRequest("GET", p, "Authorization: Bearer "+withScope)
		if status != http.StatusOK || body != "upstream" {
			t.Errorf("%q with the scope: %d %.200s, want 200 from the upstream", p, status, body)
			continue
		}
		if got := rec.targets()[n:]; len(got) != 1 || got[0] != p {
			t.Errorf("%q reached the upstream as %q", p, got)
		}
	}
	for _, p := range []string{"/public/a%20b", "/public/caf%C3%A9"} {
		if status, body := e.rawRequest("GET", p); status != http.StatusOK || body != "upstream" {
			t.Errorf("public %q: %d %.200s, want 200 from the upstream", p, status, body)
		}
	}
}
