package stsemu

import (
	"testing"
	"time"
)

func secs(n int) time.Duration { return time.Duration(n) * time.Second }

func TestTrustPolicy(t *testing.T) {
	const prov = "acs:ram::1000000000000000:oidc-provider/gw-idp"
	doc := `{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow",
	  "Principal":{"Federated":["` + prov + `"]},
	  "Condition":{"StringEquals":{"oidc:iss":"https://idp.example.com","oidc:aud":["client-a","client-b"]},
	               "StringLike":{"oidc:sub":"team-*"}}},
	  {"Action":["sts:AssumeRole"],"Effect":"Deny","Principal":{"Federated":"` + prov + `"},
	   "Condition":{"StringEquals":{"oidc:sub":"team-banned"}}}],"Version":"1"}`
	tp, err := ParseTrustPolicy(doc)
	if err != nil {
		t.Fatal(err)
	}
	ok := trustContext{providerARN: prov, iss: "https://idp.example.com", sub: "team-x/alice", aud: []string{"other", "client-b"}}
	if !tp.allows(ok) {
		t.Error("matching context refused")
	}
	for name, mod := range map[string]func(*trustContext){
		"other provider": func(c *trustContext) { c.providerARN = "acs:ram::1000000000000000:oidc-provider/x" },
		"other issuer":   func(c *trustContext) { c.iss = "https://evil.example.com" },
		"other audience": func(c *trustContext) { c.aud = []string{"client-z"} },
		"sub not like":   func(c *trustContext) { c.sub = "alice" },
		"explicit deny":  func(c *trustContext) { c.sub = "team-banned" },
	} {
		c := ok
		mod(&c)
		if tp.allows(c) {
			t.Errorf("%s: allowed", name)
		}
	}
	if _, err := ParseTrustPolicy(`{"Statement":[{"Action":1}]}`); err == nil {
		t.Error("a malformed policy parsed")
	}
}
