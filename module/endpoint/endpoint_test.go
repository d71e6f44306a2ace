package endpoint

import (
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
