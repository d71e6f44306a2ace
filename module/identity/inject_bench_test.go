package identity

import (
	"net/http"
	"strings"
	"testing"
)

func TestIsJoined(t *testing.T) {
	parts := []string{"openid", "aliuid", "profile"}
	for s, want := range map[string]bool{
		"openid aliuid profile":   true,
		"openid  aliuid profile":  false,
		"openid aliuid profile ":  false,
		" openid aliuid profile":  false,
		"openid aliuid":           false,
		"openid aliuid profilex":  false,
		"openid\taliuid profile":  false,
		"openidaliuid profile":    false,
		"openid aliuid profile x": false,
	} {
		if got := isJoined(s, parts); got != want || got != (s == strings.Join(parts, " ")) {
			t.Errorf("isJoined(%q) = %v, want %v", s, got, want)
		}
	}
	if !isJoined("", nil) || isJoined("x", nil) {
		t.Error("isJoined with no parts")
	}
}

func TestScopesHeaderFromClaimOrJoin(t *testing.T) {
	cases := []struct {
		claim  any
		scopes []string
		want   string
	}{
		{"openid profile", []string{"openid", "profile"}, "openid profile"},
		{"openid   profile openid", []string{"openid", "profile"}, "openid profile"},  // spacing and duplicates: joined
		{[]any{"openid", "profile"}, []string{"openid", "profile"}, "openid profile"}, // scp-style array
		{"openid pro\x00file", []string{"openid", "pro\x00file"}, "openid profile"},   // sanitized either way
		{nil, []string{"a", "b", "c"}, "a b c"},                                       // no claim
		{"a b", []string{"a", "b", "c"}, "a b c"},                                     // claim shorter than the scopes
	}
	for _, c := range cases {
		id := &Identity{Scopes: c.scopes, Claims: map[string]any{}}
		if c.claim != nil {
			id.Claims["scope"] = c.claim
		}
		if got := scopes(id); got != c.want {
			t.Errorf("scope claim %q, scopes %q: header %q, want %q", c.claim, c.scopes, got, c.want)
		}
	}
}

func TestInjectedValuesDoNotShareStorage(t *testing.T) {
	h := mustHeaders(t, nil, nil)
	hdr := http.Header{}
	h.Inject(hdr, testIdentity(t), nil)
	sub, iss := hdr["X-Auth-Subject"], hdr["X-Auth-Issuer"]
	if len(sub) != 1 || len(iss) != 1 {
		t.Fatalf("subject %q issuer %q", sub, iss)
	}
	// A later handler appending to one header must not change another.
	hdr["X-Auth-Subject"] = append(hdr["X-Auth-Subject"], "appended")
	hdr.Add("X-Auth-Issuer", "added")
	if got := hdr["X-Auth-Issuer"]; len(got) != 2 || got[0] != "https://oauth.aliyun.com" || got[1] != "added" {
		t.Fatalf("issuer after appends: %q", got)
	}
	if got := hdr["X-Auth-Scopes"]; len(got) != 1 || got[0] != "openid aliuid profile" {
		t.Fatalf("scopes after appends: %q", got)
	}
	if got := hdr["X-Auth-Subject"]; len(got) != 2 || got[0] != "1234" {
		t.Fatalf("subject after append: %q", got)
	}
}

// BenchmarkInjectDefaults is the per-request header work for a cached
// identity with the default headers: one allocation (the values' backing
// array) when every value is already clean.
func BenchmarkInjectDefaults(b *testing.B) {
	h := mustHeaders(b, nil, nil)
	id := &Identity{
		Provider: "demo", Subject: "2000000000000002", Issuer: "https://127.0.0.1:9443",
		Scopes: []string{"openid", "aliuid", "profile", "email"},
		Claims: decodeClaims(b, `{"sub": "2000000000000002", "scope": "openid aliuid profile email",
			"aid": "1000000000000000", "uid": "2000000000000002", "type": "user",
			"upn": "alice@example.onaliyun.com", "name": "Alice Liddell", "email": "alice@example.com"}`),
	}
	hdr := make(http.Header, 32)
	b.ReportAllocs()
	for b.Loop() {
		h.Strip(hdr)
		h.Inject(hdr, id, nil)
	}
}
