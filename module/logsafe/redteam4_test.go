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
