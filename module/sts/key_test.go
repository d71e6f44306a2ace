package sts

import (
	"encoding/json"
	"testing"
)

// TestFinding2CacheKeyUnambiguous: bytes moved from one field into its
// neighbour, or an audience split in two, never give the same key; the
// audiences are a set.
func TestFinding2CacheKeyUnambiguous(t *testing.T) {
	base := CacheKey{STS: "s", Source: "caller", Provider: "p", Issuer: "https://idp", Subject: "u",
		AuthorizedParty: "c", ClientID: "c", Audiences: []string{"a", "b"}, RoleARN: "r", SessionName: "n"}
	moved := []CacheKey{
		func(k CacheKey) CacheKey { k.Issuer, k.Subject = "https://idp\x00u", ""; return k }(base),
		func(k CacheKey) CacheKey { k.Issuer, k.Subject = "https://id", "pu"; return k }(base),
		func(k CacheKey) CacheKey { k.Provider, k.Issuer = "p\x00https://idp", ""; return k }(base),
		func(k CacheKey) CacheKey { k.Audiences = []string{"a\x00b"}; return k }(base),
		func(k CacheKey) CacheKey { k.Audiences = []string{"ab"}; return k }(base),
		func(k CacheKey) CacheKey { k.Audiences, k.AuthorizedParty = []string{"a"}, "b"; return k }(base),
		func(k CacheKey) CacheKey { k.AuthorizedParty, k.ClientID = "", "c"; return k }(base),
		func(k CacheKey) CacheKey { k.AuthorizedParty, k.ClientID = "c", ""; return k }(base),
		func(k CacheKey) CacheKey { k.RoleARN, k.ProviderARN = "", "r"; return k }(base),
		func(k CacheKey) CacheKey { k.Source = "workload"; return k }(base),
	}
	seen := map[string]int{base.String(): -1}
	for i, k := range moved {
		if j, dup := seen[k.String()]; dup {
			t.Errorf("key %d equals key %d", i, j)
		}
		seen[k.String()] = i
	}
	same := base
	same.Audiences = []string{"b", "a", "b"}
	if same.String() != base.String() {
		t.Errorf("audiences in another order or repeated give another key")
	}
}

// TestFinding2ClaimsFingerprint: per-token claims do not count, every other
// claim does, and a keyed claim of another type cannot pass for a string.
func TestFinding2ClaimsFingerprint(t *testing.T) {
	parse := func(s string) map[string]any {
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	base := ClaimsFingerprint(parse(`{"sub":"u","aud":["a"],"groups":["x"],"exp":1,"iat":1,"jti":"1"}`))
	if got := ClaimsFingerprint(parse(`{"sub":"v","aud":"b","groups":["x"],"exp":2,"iat":2,"jti":"2","nonce":"n","auth_time":5}`)); got != base {
		t.Errorf("keyed or per-token claims changed the fingerprint")
	}
	for _, other := range []string{
		`{"sub":"u","aud":["a"],"groups":["y"]}`,
		`{"sub":"u","aud":["a"],"groups":"x"}`,
		`{"sub":"u","aud":["a"]}`,
		`{"sub":1,"aud":["a"],"groups":["x"]}`,
		`{"sub":"u","aud":[1],"groups":["x"]}`,
		`{"sub":"u","aud":["a"],"groups":["x"],"https://aws.amazon.com/tags":{"principal_tags":{"team":["a"]}}}`,
	} {
		if ClaimsFingerprint(parse(other)) == base {
			t.Errorf("%s has the same fingerprint as the base", other)
		}
	}
}
