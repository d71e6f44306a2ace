package identity

import (
	"testing"

	"github.com/caddyserver/caddy/v2"
)

func TestProvide(t *testing.T) {
	id := testIdentity(t)
	repl := caddy.NewReplacer()
	Provide(repl, id)
	tests := map[string]string{
		"http.auth.user.id":              "1234",
		"http.auth.user.scopes":          "openid aliuid profile",
		"http.auth.user.provider":        "aliyun",
		"http.auth.user.upn":             "alice@corp.onaliyun.com",
		"http.auth.user.aid":             "1000000000000000",
		"http.auth.user.address.country": "CN",
		"http.auth.user.groups":          "dev ops",
		"http.auth.user.name":            "", // control characters: not exported
		"http.auth.user.address":         "", // objects are not exported
		"http.auth.user.email":           "", // absent, but known
	}
	for key, want := range tests {
		got, ok := repl.GetString(key)
		if !ok || got != want {
			t.Errorf("repl.Get(%q) = %q, %v; want %q, true", key, got, ok, want)
		}
	}
	for _, key := range []string{"http.auth.user.", "http.auth.userx"} {
		if v, ok := repl.Get(key); ok {
			t.Errorf("repl.Get(%q) = %v, want unknown", key, v)
		}
	}
	if got := repl.ReplaceKnown("user={http.auth.user.id} scopes={http.auth.user.scopes}", ""); got != "user=1234 scopes=openid aliuid profile" {
		t.Errorf("ReplaceKnown = %q", got)
	}

	// A nil identity registers nothing.
	empty := caddy.NewReplacer()
	Provide(empty, nil)
	if _, ok := empty.Get("http.auth.user.id"); ok {
		t.Error("placeholder known without an identity")
	}
}
