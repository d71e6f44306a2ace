package logsafe

import (
	"strings"
	"testing"
)

// A remote server controls the text of its error messages, and those reach
// the gateway's log. Whatever of a secret it echoes must not.
func TestMessageRemovesEchoedSecrets(t *testing.T) {
	const token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJlLW9mLXRoZS1jYWxsZXI"
	const sig = "c2lnbmF0dXJlLW9mLXRoZS1jYWxsZXI"
	const other = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJiIn0.b3RoZXItc2lnbmF0dXJl"
	for name, msg := range map[string]string{
		"whole token":             "token " + token + " is not valid",
		"signature alone":         "signature " + sig + " does not verify",
		"another token":           "the provider's token " + other + " expired",
		"a five-part JWE":         "cannot decrypt eyJhbGciOiJSU0EifQ.a.b.c.d here",
		"token after a control":   "bad\x00" + token,
		"secret in an error code": "client pw-123456789 unknown",
	} {
		got := Message(msg, token, "pw-123456789")
		for _, leak := range []string{token, sig, other, "eyJhbGciOiJSU0EifQ", "pw-123456789"} {
			if strings.Contains(got, leak) {
				t.Errorf("%s: %q keeps %q", name, got, leak)
			}
		}
		if !strings.Contains(got, Redacted) {
			t.Errorf("%s: %q says nothing was removed", name, got)
		}
	}
	// Ordinary words and short parts stay readable.
	if got := Message("role eyJ is a.b.c", "abc"); got != "role eyJ is a.b.c" {
		t.Errorf("plain text changed: %q", got)
	}
}

func TestMessageStripsControlsAndCaps(t *testing.T) {
	if got := Message("bad token eyJhbGciOiJSUzI1NiJ9.x.y\nnext", "eyJhbGciOiJSUzI1NiJ9.x.y"); got != "bad token "+Redacted+" next" {
		t.Errorf("safeMessage = %q", got)
	}
	if got := Message(strings.Repeat("é", 400), ""); len(got) > 310 || !strings.HasSuffix(got, "…") {
		t.Errorf("long message not capped: %d bytes", len(got))
	}
}
