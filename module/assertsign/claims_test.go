package assertsign

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/identity"
)

// A sender-constrained caller's binding reaches the assertion as `cnf`
// under the member its token used, and is part of the cache key (two
// callers bound to different keys never share an assertion).
func TestClaimsCarryTheTokenBinding(t *testing.T) {
	base := &identity.Identity{Subject: "alice", Issuer: "https://idp.example", Provider: "corp"}
	dpop := *base
	dpop.Binding = &identity.TokenBinding{Method: identity.BindingDPoP, Thumbprint: "jkt-1"}
	mtls := *base
	mtls.Binding = &identity.TokenBinding{Method: identity.BindingMTLS, Thumbprint: "x5t-1"}
	other := *base
	other.Binding = &identity.TokenBinding{Method: identity.BindingDPoP, Thumbprint: "jkt-2"}

	for _, tc := range []struct {
		id   *identity.Identity
		want string
	}{
		{base, ""},
		{&dpop, `"cnf":{"jkt":"jkt-1"}`},
		{&mtls, `"cnf":{"x5t#S256":"x5t-1"}`},
	} {
		raw, err := json.Marshal(newPayload(ClaimsFor(tc.id, "https://app.example", ""), "https://gw.example", "j", time.Unix(1, 0), time.Unix(2, 0)))
		if err != nil {
			t.Fatal(err)
		}
		if tc.want == "" && strings.Contains(string(raw), "cnf") || tc.want != "" && !strings.Contains(string(raw), tc.want) {
			t.Errorf("payload %s, want %q", raw, tc.want)
		}
	}
	a, b := ClaimsFor(&dpop, "aud", ""), ClaimsFor(&other, "aud", "")
	if a == b || flightKey(a) == flightKey(b) || a == ClaimsFor(base, "aud", "") {
		t.Error("callers bound to different keys share a cache key")
	}
}

// TestClaimsNameTheClient: a machine caller whose token has no `sub` is
// named by `client_id` (else `azp`), so two clients with the same scopes
// get different assertions and a backend can tell them apart.
func TestClaimsNameTheClient(t *testing.T) {
	machine := func(claims map[string]any) *identity.Identity {
		return &identity.Identity{Issuer: "https://idp.example", Provider: "corp", Scopes: []string{"jobs"}, Claims: claims}
	}
	a := ClaimsFor(machine(map[string]any{"client_id": "batch-a", "azp": "ignored"}), "aud", "")
	b := ClaimsFor(machine(map[string]any{"azp": "batch-b"}), "aud", "")
	none := ClaimsFor(machine(map[string]any{}), "aud", "")
	if a.ClientID != "batch-a" || b.ClientID != "batch-b" || none.ClientID != "" {
		t.Errorf("client IDs %q %q %q", a.ClientID, b.ClientID, none.ClientID)
	}
	if a == b || flightKey(a) == flightKey(b) {
		t.Error("two clients share an assertion")
	}
	raw, err := json.Marshal(newPayload(a, "https://gw.example", "j", time.Unix(1, 0), time.Unix(2, 0)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"client_id":"batch-a"`) || strings.Contains(string(raw), `"sub"`) {
		t.Errorf("payload %s", raw)
	}
}

// TestFlightKeyCoversEveryClaim: concurrent first requests share one
// signature when their flight keys are equal, so a Claims field the key
// forgot would hand one caller an assertion made for another.
func TestFlightKeyCoversEveryClaim(t *testing.T) {
	base := Claims{}
	v := reflect.ValueOf(&base).Elem()
	for i := range v.NumField() {
		if v.Field(i).Kind() != reflect.String {
			t.Fatalf("field %s is not a string: extend flightKey and this test", v.Type().Field(i).Name)
		}
		changed := base
		reflect.ValueOf(&changed).Elem().Field(i).SetString("x")
		if flightKey(changed) == flightKey(base) {
			t.Errorf("flightKey ignores %s", v.Type().Field(i).Name)
		}
	}
}
