package logsafe

import (
	"strings"
	"testing"
)

// TestRedTeam4UnicodeLineBreaksAndBidi: remote error text with U+2028/U+2029
// (line breaks for many log viewers and JavaScript) or a bidi override
// (U+202E, which reorders what an operator reads) reaches the log as it is:
// zap's JSON and console encoders write these runes unescaped. Message drops
// C0/C1 controls but kept these (failed before the fix in this commit).
func TestRedTeam4UnicodeLineBreaksAndBidi(t *testing.T) {
	for _, in := range []string{
		"bad\u2028{\"level\":\"error\",\"msg\":\"forged\"}",
		"bad\u2029second paragraph",
		"role \u202etnemyap-nimda\u202c denied",
		"zero\u200bwidth\u2066isolate\u2069",
	} {
		got := Message(in)
		if strings.ContainsAny(got, "\u2028\u2029\u202e\u202c\u200b\u2066\u2069") {
			t.Errorf("Message(%q) = %q keeps a line separator or format character", in, got)
		}
	}
	if got := Message("Zugriff verweigert: Benutzer »jörg« ✓"); got != "Zugriff verweigert: Benutzer »jörg« ✓" {
		t.Errorf("ordinary non-ASCII text changed: %q", got)
	}
}

// TestRedTeam4QuotedAuthorizationCredential: a server that quotes the
// Authorization header it refused echoes base64(client_id:client_secret)
// (client_secret_basic) or a bearer token; neither is the secret's literal
// text, so Message kept them (failed before the fix in this commit).
func TestRedTeam4QuotedAuthorizationCredential(t *testing.T) {
	for _, in := range []string{
		"bad client: Authorization: Basic Z3c6Z3ctZXhjaGFuZ2Utc2VjcmV0",
		"token refused (bearer 2YotnFZFEjr1zCsicMWpAA)",
		"proof refused for DPoP Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU",
	} {
		got := Message(in)
		for _, cred := range []string{"Z3c6Z3ctZXhjaGFuZ2Utc2VjcmV0", "2YotnFZFEjr1zCsicMWpAA", "Kz~8mXK1EalYznwH"} {
			if strings.Contains(got, cred) {
				t.Errorf("Message(%q) = %q keeps the credential", in, got)
			}
		}
	}
	for _, prose := range []string{"the token type must be Bearer or DPoP", "Basic authentication required", "bearer credentials missing"} {
		if got := Message(prose); got != prose {
			t.Errorf("prose changed: %q", got)
		}
	}
}
