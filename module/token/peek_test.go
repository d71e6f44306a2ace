package token

import (
	"strings"
	"testing"
)

func TestPeekScopes(t *testing.T) {
	c := baseClaims()
	c["scp"] = []string{"admin", "openid"}
	got, ok := PeekScopes(signRSA(t, c))
	if !ok || strings.Join(got, " ") != "openid profile admin" {
		t.Errorf("PeekScopes = %q, %v", got, ok)
	}
	delete(c, "scope")
	delete(c, "scp")
	if got, ok := PeekScopes(signRSA(t, c)); ok {
		t.Errorf("no scope claim: %q, %v; want not known", got, ok)
	}
	dup := signRaw(t, rsaHeader, payloadWith(`,"scope":"admin"`))
	if got, ok := PeekScopes(dup); ok {
		t.Errorf("repeated scope member: %q, %v; want not known", got, ok)
	}
	for _, raw := range []string{"", "opaque-token", "a.b", "a.!!.c", "a.bnVsbA.c"} {
		if _, ok := PeekScopes(raw); ok {
			t.Errorf("PeekScopes(%q) ok", raw)
		}
	}
}
