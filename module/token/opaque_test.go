package token

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// answer decodes a provider answer as oidc does (numbers as json.Number).
func answer(t *testing.T, js string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(js))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// Finding 1: an opaque-token answer must bind the token to this gateway:
// aud (when stated) like a JWT's, else client_id/azp; an introspection answer
// that states none is refused, a userinfo one is accepted (the documented
// limit); refresh tokens are refused, and token_type DPoP only passes with
// a cnf binding (which the gateway then checks per request: binding.go).
func TestFinding1AnswerBinding(t *testing.T) {
	type gateway struct {
		mode     OpaqueMode
		accepted []string
	}
	gw := func(mode OpaqueMode, audiences ...string) gateway {
		// As NewOpaqueChecker does: the audiences, default the client ID.
		c := NewOpaqueChecker(OpaqueConfig{Provider: "corp", Mode: mode, Audiences: audiences, ClientID: "gw"}, nil)
		return gateway{mode, c.accepted}
	}
	cases := []struct {
		answer string
		p      gateway
		want   string // "" accepted, else a description prefix
	}{
		{`{"aud":"gw"}`, gw(OpaqueIntrospection), ""},
		{`{"client_id":"gw"}`, gw(OpaqueIntrospection), ""},
		{`{"client_id":"gw","azp":"gw","token_type":"Bearer"}`, gw(OpaqueIntrospection), ""},
		{`{"aud":["api","gw"],"client_id":"mobile"}`, gw(OpaqueIntrospection), ""},
		{`{"aud":"api","client_id":"mobile"}`, gw(OpaqueIntrospection, "api"), ""},
		{`{"aud":"other-app"}`, gw(OpaqueIntrospection), "token was issued to another client"},
		{`{"aud":"other-app","client_id":"gw"}`, gw(OpaqueIntrospection), "token was issued to another client"},
		{`{"client_id":"other-app"}`, gw(OpaqueIntrospection), "token was issued to another client"},
		{`{"client_id":"gw","azp":"other-app"}`, gw(OpaqueIntrospection), "token was issued to another client"},
		{`{"client_id":"gw "}`, gw(OpaqueIntrospection), "token was issued to another client"},
		{`{"client_id":"GW"}`, gw(OpaqueIntrospection), "token was issued to another client"},
		{`{"aud":[]}`, gw(OpaqueIntrospection), "invalid audience"},
		{`{"aud":["gw",7]}`, gw(OpaqueIntrospection), "invalid audience"},
		{`{"client_id":["gw"]}`, gw(OpaqueIntrospection), "invalid audience"},
		{`{}`, gw(OpaqueIntrospection), "the provider's answer names no audience or client"},
		{`{"client_id":"gw","token_type":"refresh_token"}`, gw(OpaqueIntrospection), "not an access token"},
		{`{"client_id":"gw","token_type":"DPoP"}`, gw(OpaqueIntrospection), "not an access token"},
		{`{"client_id":"gw","token_type":""}`, gw(OpaqueIntrospection), "not an access token"},
		{`{"client_id":"gw","token_type":null}`, gw(OpaqueIntrospection), "not an access token"},
		{`{"client_id":"gw","cnf":{"jkt":"x"}}`, gw(OpaqueIntrospection), ""},
		{`{"client_id":"gw","token_type":"DPoP","cnf":{"jkt":"x"}}`, gw(OpaqueIntrospection), ""},
		// Userinfo: whatever the answer states is checked; an answer that
		// states nothing cannot be (README: what userinfo mode cannot check).
		{`{}`, gw(OpaqueUserinfo), ""},
		{`{"aud":"gw","azp":"gw"}`, gw(OpaqueUserinfo), ""},
		{`{"aud":"other-app","azp":"other-app"}`, gw(OpaqueUserinfo), "token was issued to another client"},
		{`{"azp":"other-app"}`, gw(OpaqueUserinfo), "token was issued to another client"},
		{`{"client_id":"other-app"}`, gw(OpaqueUserinfo), "token was issued to another client"},
	}
	for _, c := range cases {
		te := checkAnswerBinding(answer(t, c.answer), c.p.accepted, c.p.mode)
		switch {
		case c.want == "" && te != nil:
			t.Errorf("%s (%s): refused: %s", c.answer, c.p.mode, te.Description)
		case c.want != "" && te == nil:
			t.Errorf("%s (%s): accepted, want %q", c.answer, c.p.mode, c.want)
		case c.want != "" && !strings.HasPrefix(te.Description, c.want):
			t.Errorf("%s (%s): %q, want %q", c.answer, c.p.mode, te.Description, c.want)
		}
	}
}

// Finding 7: a bearer string that cannot be an access token is refused
// before any provider call; real providers' tokens are not.
func TestFinding7OpaqueShape(t *testing.T) {
	good := []string{
		base64.RawURLEncoding.EncodeToString(make([]byte, 32)),
		base64.StdEncoding.EncodeToString([]byte("0123456789abcdefghij")), // with "=" padding
		"ya29.a0AfB_byC-1x2y3z4~abc+def/ghi",                              // Google-style
		"eyJraWQiOiJrMTIzNCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d",              // a JWE's five parts
		"AT8csE2abcdefghijklmnop",                                         // Alibaba's documented prefix
		"0123456789abcdef",                                                // the shortest accepted
		strings.Repeat("A", maxOpaqueLen),
	}
	for _, tok := range good {
		if !opaqueShaped(tok) {
			t.Errorf("refused a plausible token %.40q (%d bytes)", tok, len(tok))
		}
	}
	bad := []string{
		"", "short", "0123456789abcde", strings.Repeat("A", maxOpaqueLen+1),
		"has a space 0123456789", "tab\t0123456789abcdef", "nul\x000123456789abcdef", "del\x7f0123456789abcdef",
		"crlf\r\n0123456789abcdef", `quote"0123456789abcdef`, "comma,0123456789abcdef", "ünïcödé0123456789abcdef",
		"pad=ding0123456789abcdef", "=0123456789abcdef0123", "0123456789abcdef==x",
	}
	for _, tok := range bad {
		if opaqueShaped(tok) {
			t.Errorf("accepted %.40q as token-shaped", tok)
		}
	}
}

// Finding 7: the bucket allows burst calls at once, then rate per second,
// and says when to come back.
func TestFinding7TokenBucket(t *testing.T) {
	now := time.Unix(1000, 0)
	b := newTokenBucket(2, 5, func() time.Time { return now })
	for i := 0; i < 5; i++ {
		if _, ok := b.take(); !ok {
			t.Fatalf("call %d of the burst refused", i+1)
		}
	}
	wait, ok := b.take()
	if ok || wait != time.Second {
		t.Fatalf("past the burst: ok=%v retry after %s, want refused and 1s", ok, wait)
	}
	now = now.Add(500 * time.Millisecond)
	if _, ok := b.take(); !ok {
		t.Fatal("refused after half a second at 2/s")
	}
	if _, ok := b.take(); ok {
		t.Fatal("a second call within the same half second was allowed")
	}
	now = now.Add(time.Hour)
	n := 0
	for ; n < 100; n++ {
		if _, ok := b.take(); !ok {
			break
		}
	}
	if n != 5 {
		t.Errorf("after an hour idle %d calls passed, want the burst (5)", n)
	}
	slow := newTokenBucket(1.0/60, 1, func() time.Time { return now })
	slow.take()
	if wait, _ := slow.take(); wait != time.Minute {
		t.Errorf("at 1/m the retry is %s, want 1m", wait)
	}
}

// Sibling (cache keys): the opaque-answer cache key differs in each of
// provider, mode and token, and never equals a JWT's key (the raw token).
func TestOpaqueCacheKeyDistinguishesProviderAndMode(t *testing.T) {
	p := func(name string, mode OpaqueMode) *OpaqueChecker {
		return NewOpaqueChecker(OpaqueConfig{Provider: name, Mode: mode}, nil)
	}
	keys := map[string]string{
		"base":          p("a", OpaqueUserinfo).CacheKey("tok0123456789abcdef"),
		"provider":      p("b", OpaqueUserinfo).CacheKey("tok0123456789abcdef"),
		"mode":          p("a", OpaqueIntrospection).CacheKey("tok0123456789abcdef"),
		"token":         p("a", OpaqueUserinfo).CacheKey("tok0123456789abcdeF"),
		"name boundary": p("a\x00userinfo", "").CacheKey("tok0123456789abcdef"),
		"raw":           "tok0123456789abcdef",
	}
	seen := map[string]string{}
	for what, k := range keys {
		if other, dup := seen[k]; dup {
			t.Errorf("%s and %s share a cache key", what, other)
		}
		seen[k] = what
	}
}

// The zero values of OpaqueConfig take the documented defaults
// (`opaque_rate 20/s 40`, `opaque_cache_ttl 2m`).
func TestOpaqueDefaults(t *testing.T) {
	c := NewOpaqueChecker(OpaqueConfig{Provider: "corp", Mode: OpaqueIntrospection, ClientID: "gw"}, nil)
	if b := c.gate.bucket; b.rate != 20 || b.burst != 40 || b.tokens != 40 {
		t.Errorf("bucket %v/s burst %v (%v tokens), want 20/s 40", b.rate, b.burst, b.tokens)
	}
	if c.cfg.TTL != 2*time.Minute {
		t.Errorf("ttl %s, want 2m", c.cfg.TTL)
	}
	set := NewOpaqueChecker(OpaqueConfig{Rate: 1.5, Burst: 7, TTL: time.Second}, nil)
	if b := set.gate.bucket; b.rate != 1.5 || b.burst != 7 || set.cfg.TTL != time.Second {
		t.Errorf("configured 1.5/s 7 1s, got %v/s %v %s", b.rate, b.burst, set.cfg.TTL)
	}
}
