package endpoint

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestIsLoopbackHost(t *testing.T) {
	for h, want := range map[string]bool{
		"localhost": true, "LOCALHOST.": true, "127.0.0.1": true, "127.255.0.1": true, "::1": true, "[::1]": true,
		"128.0.0.1": false, "localhost.example.com": false, "example.com": false, "0.0.0.0": false, "": false,
	} {
		if got := IsLoopbackHost(h); got != want {
			t.Errorf("IsLoopbackHost(%q) = %v, want %v", h, got, want)
		}
	}
}

func TestParse(t *testing.T) {
	for _, ok := range []string{"https://idp.example.com", "https://idp.example.com/realms/x", "http://127.0.0.1:8080", "http://localhost/x", "http://[::1]:9000"} {
		if _, err := Parse(ok); err != nil {
			t.Errorf("Parse(%q): %v", ok, err)
		}
	}
	for bad, want := range map[string]string{
		"http://idp.example.com":   "https",
		"ftp://idp.example.com":    "scheme",
		"idp.example.com":          "absolute",
		"https:///path":            "absolute",
		"https:idp.example.com":    "absolute",
		"https://idp.example.com%": "valid URL",
		"http://127.0.0.1.nip.io":  "https",
	} {
		if _, err := Parse(bad); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want an error about %q", bad, err, want)
		}
	}
}

func TestRoutedHost(t *testing.T) {
	req := func(host, local string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/x", nil)
		r.Host = host
		if local != "" {
			addr, _ := net.ResolveTCPAddr("tcp", local)
			r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, addr))
		}
		return r
	}
	for _, tc := range []struct{ host, local, want string }{
		{"app.example.com", "10.0.0.1:8443", "app.example.com"},
		{"app.example.com:1", "10.0.0.1:8443", "app.example.com:8443"},
		{"App.Example.com:443", "10.0.0.1:443", "App.Example.com:443"},
		{"[::1]:9", "[::1]:8080", "[::1]:8080"},
		{"[::1]", "[::1]:8080", "[::1]"},
		{"app.example.com:1", "", "app.example.com:1"}, // no listener known (not served by net/http)
	} {
		if got := RoutedHost(req(tc.host, tc.local)); got != tc.want {
			t.Errorf("RoutedHost(%q, local %s) = %q, want %q", tc.host, tc.local, got, tc.want)
		}
	}
}
