package demoidp

import (
	"net"
	"net/url"
	"strings"
	"testing"
)

// FuzzRedirectAllowed: a client without loopback allowance accepts exactly its
// registered URIs; with it, only http(s) loopback URLs besides those.
func FuzzRedirectAllowed(f *testing.F) {
	for _, seed := range []string{
		"https://app.example/cb", "https://app.example/cb/", "https://app.example/cb#x", "https://app.example/cb?x=1",
		"http://127.0.0.1:8080/cb", "http://localhost/cb", "http://[::1]:1/x", "http://127.0.0.1.evil.example/cb",
		"http://localhost@evil.example/", "javascript://127.0.0.1/%0aalert(1)", "//127.0.0.1/cb", "http://127.0.0.1:1/cb#frag",
		"HTTP://LOCALHOST/", "http://0x7f000001/",
	} {
		f.Add(seed)
	}
	strict := Client{ID: "a", RedirectURIs: []string{"https://app.example/cb"}}
	loose := Client{ID: "b", RedirectURIs: []string{"https://app.example/cb"}, AllowLoopbackRedirects: true}
	f.Fuzz(func(t *testing.T, uri string) {
		if redirectAllowed(strict, strict.RedirectURIs, uri) && uri != "https://app.example/cb" {
			t.Fatalf("strict client accepted %q", uri)
		}
		if redirectAllowed(loose, loose.RedirectURIs, uri) && uri != "https://app.example/cb" {
			u, err := url.Parse(uri)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Fragment != "" || u.User != nil {
				t.Fatalf("loose client accepted %q", uri)
			}
			if h := strings.TrimSuffix(strings.ToLower(u.Hostname()), "."); h != "localhost" && !net.ParseIP(h).IsLoopback() {
				t.Fatalf("loose client accepted non-loopback %q", uri)
			}
		}
	})
}
