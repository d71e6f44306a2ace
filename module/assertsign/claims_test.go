package assertsign

import (
	"encoding/json"
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
