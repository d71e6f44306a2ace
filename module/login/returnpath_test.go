package login

import (
	"net/url"
	"strings"
	"testing"
)

func TestSafeReturnPath(t *testing.T) {
	accept := map[string]string{
		"/":                        "/",
		"/app":                     "/app",
		"/app/page?x=1&y=2":        "/app/page?x=1&y=2",
		"/app#frag":                "/app",
		"/app?q=1#frag":            "/app?q=1",
		"/a%20b":                   "/a%20b",
		"/files/a%2Fb":             "/files/a%2Fb",
		"/search?q=https://x.test": "/search?q=https://x.test",
		"/search?q=%5C":            "/search?q=%5C",
		"/a:b":                     "/a:b",
		"/.well-known/x":           "/.well-known/x",
	}
	for in, want := range accept {
		got, ok := SafeReturnPath(in)
		if !ok || got != want {
			t.Errorf("SafeReturnPath(%q) = %q, %v; want %q, true", in, got, ok, want)
		}
	}
	refuse := []string{
		"", "app", "//evil.com", "///evil.com", "/\\evil.com", "\\/evil.com", "\\\\evil.com",
		"/a\\b", "https://evil.com", "http:evil.com", "javascript:alert(1)", "JavaScript:alert(1)",
		"data:text/html,x", " /app", "\t/app", "\n/app", "/app\r\nSet-Cookie: x=1", "/a\x00b", "/a\x7fb",
		"/\t/evil.com", "/%09/evil.com", "/%0d%0aLocation:x", "/%2f%2fevil.com", "/%2F%2Fevil.com", "/%2fevil.com",
		"/%5cevil.com", "/%5Cevil.com", "%2F%2Fevil.com", "%2fevil.com", "/%252f%252fevil.com", "/%255cevil.com",
		"/%25252f%25252fevil", "/%2525252f%2525252fevil", "/a%5cb", "/%", "/%zz", "/ä", "/\u3002evil.com",
		"//user:pass@evil.com", "/@evil.com\\x", "https:/evil.com", "//", "/\\", "/ app",
		"/" + strings.Repeat("a", 5000),
	}
	for _, in := range refuse {
		if got, ok := SafeReturnPath(in); ok || got != "/" {
			t.Errorf("SafeReturnPath(%q) = %q, %v; want it refused with \"/\"", in, got, ok)
		}
	}
}

func FuzzSafeReturnPath(f *testing.F) {
	for _, s := range []string{"/", "/app?x=1#f", "//evil", "/\\evil", "\\/evil", "/%2f%2fevil", "/%5cevil",
		"%2F%2Fevil", "/%252f", "javascript:x", "https://x", " /x", "/\t/x", "/a%2Fb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, ok := SafeReturnPath(raw)
		if !ok {
			if got != "/" {
				t.Fatalf("refused value returned %q, want /", got)
			}
			return
		}
		if !strings.HasPrefix(got, "/") {
			t.Fatalf("accepted %q does not start with /", got)
		}
		if len(got) > 1 && (got[1] == '/' || got[1] == '\\') {
			t.Fatalf("accepted %q starts with // or /\\", got)
		}
		for i := 0; i < len(got); i++ {
			if got[i] < 0x20 || got[i] == 0x7f {
				t.Fatalf("accepted %q has a control character", got)
			}
		}
		u, err := url.Parse(got)
		if err != nil || u.Scheme != "" || u.Host != "" {
			t.Fatalf("accepted %q parses with scheme %q host %q (err %v)", got, u.Scheme, u.Host, err)
		}
		// A browser resolving it against our origin must stay on our origin.
		base, _ := url.Parse("https://app.example.com/x")
		if res := base.ResolveReference(u); res.Host != "app.example.com" {
			t.Fatalf("accepted %q resolves to host %q", got, res.Host)
		}
	})
}
