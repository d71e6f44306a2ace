package login

import (
	"regexp"
	"testing"
)

func TestS256ChallengeRFC7636AppendixB(t *testing.T) {
	const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	const want = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	if got := S256Challenge(verifier); got != want {
		t.Fatalf("S256Challenge = %q, want %q", got, want)
	}
}

func TestNewVerifier(t *testing.T) {
	unreserved := regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)
	seen := map[string]bool{}
	for range 100 {
		v := NewVerifier()
		if !unreserved.MatchString(v) {
			t.Fatalf("verifier %q is not 43-128 unreserved characters", v)
		}
		if seen[v] {
			t.Fatal("verifier repeated")
		}
		seen[v] = true
	}
}
