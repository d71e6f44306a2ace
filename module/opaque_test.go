package edgeauth

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// Finding 1: `preset aliyun` turned userinfo checks of opaque tokens on by
// default. No preset sets opaque_tokens now.
func TestFinding1PresetDoesNotTurnOnOpaqueTokens(t *testing.T) {
	for _, preset := range []string{"aliyun", "aliyun_intl"} {
		pc, err := ProviderConfig{Preset: preset, ClientID: "4000000000000000001"}.withPreset()
		if err != nil {
			t.Fatal(err)
		}
		if pc.OpaqueTokens != "" {
			t.Errorf("preset %s sets opaque_tokens %q", preset, pc.OpaqueTokens)
		}
		explicit, _ := ProviderConfig{Preset: preset, OpaqueTokens: opaqueUserinfo}.withPreset()
		if explicit.OpaqueTokens != opaqueUserinfo {
			t.Errorf("preset %s overrides an explicit opaque_tokens userinfo: %q", preset, explicit.OpaqueTokens)
		}
	}
}

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
	gw := func(mode string, audiences ...string) *provider {
		return &provider{name: "corp", config: &ProviderConfig{Audiences: audiences}, clientID: "gw", opaque: mode}
	}
	cases := []struct {
		answer string
		p      *provider
		want   string // "" accepted, else a description prefix
	}{
		{`{"aud":"gw"}`, gw(opaqueIntrospection), ""},
		{`{"client_id":"gw"}`, gw(opaqueIntrospection), ""},
		{`{"client_id":"gw","azp":"gw","token_type":"Bearer"}`, gw(opaqueIntrospection), ""},
		{`{"aud":["api","gw"],"client_id":"mobile"}`, gw(opaqueIntrospection), ""},
		{`{"aud":"api","client_id":"mobile"}`, gw(opaqueIntrospection, "api"), ""},
		{`{"aud":"other-app"}`, gw(opaqueIntrospection), "token was issued to another client"},
		{`{"aud":"other-app","client_id":"gw"}`, gw(opaqueIntrospection), "token was issued to another client"},
		{`{"client_id":"other-app"}`, gw(opaqueIntrospection), "token was issued to another client"},
		{`{"client_id":"gw","azp":"other-app"}`, gw(opaqueIntrospection), "token was issued to another client"},
		{`{"client_id":"gw "}`, gw(opaqueIntrospection), "token was issued to another client"},
		{`{"client_id":"GW"}`, gw(opaqueIntrospection), "token was issued to another client"},
		{`{"aud":[]}`, gw(opaqueIntrospection), "invalid audience"},
		{`{"aud":["gw",7]}`, gw(opaqueIntrospection), "invalid audience"},
		{`{"client_id":["gw"]}`, gw(opaqueIntrospection), "invalid audience"},
		{`{}`, gw(opaqueIntrospection), "the provider's answer names no audience or client"},
		{`{"client_id":"gw","token_type":"refresh_token"}`, gw(opaqueIntrospection), "not an access token"},
		{`{"client_id":"gw","token_type":"DPoP"}`, gw(opaqueIntrospection), "not an access token"},
		{`{"client_id":"gw","token_type":""}`, gw(opaqueIntrospection), "not an access token"},
		{`{"client_id":"gw","token_type":null}`, gw(opaqueIntrospection), "not an access token"},
		{`{"client_id":"gw","cnf":{"jkt":"x"}}`, gw(opaqueIntrospection), ""},
		{`{"client_id":"gw","token_type":"DPoP","cnf":{"jkt":"x"}}`, gw(opaqueIntrospection), ""},
		// Userinfo: whatever the answer states is checked; an answer that
		// states nothing cannot be (README: what userinfo mode cannot check).
		{`{}`, gw(opaqueUserinfo), ""},
		{`{"aud":"gw","azp":"gw"}`, gw(opaqueUserinfo), ""},
		{`{"aud":"other-app","azp":"other-app"}`, gw(opaqueUserinfo), "token was issued to another client"},
		{`{"azp":"other-app"}`, gw(opaqueUserinfo), "token was issued to another client"},
		{`{"client_id":"other-app"}`, gw(opaqueUserinfo), "token was issued to another client"},
	}
	for _, c := range cases {
		te := checkAnswerBinding(answer(t, c.answer), c.p)
		switch {
		case c.want == "" && te != nil:
			t.Errorf("%s (%s): refused: %s", c.answer, c.p.opaque, te.Description)
		case c.want != "" && te == nil:
			t.Errorf("%s (%s): accepted, want %q", c.answer, c.p.opaque, c.want)
		case c.want != "" && !strings.HasPrefix(te.Description, c.want):
			t.Errorf("%s (%s): %q, want %q", c.answer, c.p.opaque, te.Description, c.want)
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
	p := func(name, mode string) *provider { return &provider{name: name, opaque: mode} }
	keys := map[string]string{
		"base":          opaqueCacheKey(p("a", opaqueUserinfo), "tok0123456789abcdef"),
		"provider":      opaqueCacheKey(p("b", opaqueUserinfo), "tok0123456789abcdef"),
		"mode":          opaqueCacheKey(p("a", opaqueIntrospection), "tok0123456789abcdef"),
		"token":         opaqueCacheKey(p("a", opaqueUserinfo), "tok0123456789abcdeF"),
		"name boundary": opaqueCacheKey(p("a\x00userinfo", ""), "tok0123456789abcdef"),
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

// opaque_rate: defaults, and out-of-range values refused at load with the
// directive's name.
func TestOpaqueRateConfig(t *testing.T) {
	pc := &ProviderConfig{Issuer: "https://idp.example.com", ClientID: "gw"}
	if rate, burst := pc.opaqueLimit(); rate != 20 || burst != 40 {
		t.Errorf("defaults: %v/s burst %d, want 20/s 40", rate, burst)
	}
	for _, bad := range []ProviderConfig{{OpaqueRate: -1}, {OpaqueRate: 10001}, {OpaqueRate: math.NaN()}, {OpaqueBurst: -1}, {OpaqueBurst: 100001}} {
		bad.Issuer, bad.ClientID = pc.Issuer, pc.ClientID
		if _, _, err := bad.compile(); err == nil || !strings.Contains(err.Error(), "opaque_rate") {
			t.Errorf("rate %v burst %d: %v, want an opaque_rate error", bad.OpaqueRate, bad.OpaqueBurst, err)
		}
	}
	d := caddyfile.NewTestDispenser("provider corp {\n opaque_rate 90/m 7\n}")
	d.Next()
	d.Next()
	var got ProviderConfig
	if err := got.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	if got.OpaqueRate != 1.5 || got.OpaqueBurst != 7 {
		t.Errorf("opaque_rate 90/m 7: %v/s burst %d", got.OpaqueRate, got.OpaqueBurst)
	}
	for _, bad := range []string{"opaque_rate", "opaque_rate 20", "opaque_rate 0/s", "opaque_rate -1/s", "opaque_rate 20/s x", "opaque_rate 20/s 1 2", "opaque_rate Inf/s"} {
		d := caddyfile.NewTestDispenser("provider corp {\n " + bad + "\n}")
		d.Next()
		d.Next()
		var pc ProviderConfig
		if err := pc.UnmarshalCaddyfile(d); err == nil || !strings.Contains(err.Error(), "opaque_rate") {
			t.Errorf("%q: %v, want an opaque_rate error", bad, err)
		}
	}
}
