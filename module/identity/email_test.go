package identity

import (
	"strings"
	"testing"
)

func mustEmailPattern(t *testing.T, s string) EmailPattern {
	t.Helper()
	p, err := CompileEmailPattern(s)
	if err != nil {
		t.Fatalf("CompileEmailPattern(%q): %v", s, err)
	}
	return p
}

// TestEmailPatternTricks: the addresses an attacker would try against
// `*@example.com`, each refused, and the ordinary ones accepted whatever
// their ASCII case.
func TestEmailPatternTricks(t *testing.T) {
	p := mustEmailPattern(t, "*@example.com")
	match := []string{
		"a@example.com", "A@EXAMPLE.COM", "Alice.Liddell+tag@Example.Com", "ålice@example.com",
		"a*b@example.com", "界@example.com",
	}
	miss := []string{
		"a@example.com@evil.com",       // two @: the domain is not example.com
		"a@evil.com\u0000@example.com", // NUL-joined second address
		"a@evil.com@example.com",       // two @
		"a@evil.com\r\n@example.com",   // CRLF-joined
		"a@sub.example.com",            // a subdomain is another domain
		"a@example.com.",               // trailing dot
		"a@example.com..",              // trailing dots
		"a@example.com.evil.com",       // suffix trick
		"a@evilexample.com",            // no dot before example
		"a@exаmple.com",                // Cyrillic а (U+0430)
		"a@ex\u0430mple.com",           // the same, escaped
		"a@ｅｘａｍｐｌｅ.com",                // full-width letters
		"a＠example.com",                // full-width at sign: no @ at all
		"a@example.com\u200b",          // zero-width space
		"a@\u202eexample.com",          // right-to-left override
		"a @example.com",               // space in the local part
		"a\u0000@example.com",          // NUL in the local part
		"a\u200b@example.com",          // zero-width space in the local part
		"\u0085a@example.com",          // C1 control
		"@example.com",                 // empty local part
		"a@",                           // empty domain
		"a@.example.com",               // empty label
		"a@example..com",               // empty label
		"a@example.com ",               // trailing space
		" a@example.com",               // leading space
		"a@example_com",                // underscore
		"a@[127.0.0.1]",                // address literal
		"example.com",                  // no @
		"",                             // nothing
	}
	for _, s := range match {
		if !p.Match(s) {
			t.Errorf("*@example.com does not match %q", s)
		}
	}
	for _, s := range miss {
		if p.Match(s) {
			t.Errorf("*@example.com matches %q", s)
		}
	}

	// Subdomains are opted into with a pattern of their own.
	sub := mustEmailPattern(t, "*@*.example.com")
	for _, s := range []string{"a@sub.example.com", "a@a.b.example.com", "A@SUB.EXAMPLE.COM"} {
		if !sub.Match(s) {
			t.Errorf("*@*.example.com does not match %q", s)
		}
	}
	for _, s := range []string{"a@example.com", "a@sub.example.com.", "a@subexample.com", "a@sub.example.com@evil.com"} {
		if sub.Match(s) {
			t.Errorf("*@*.example.com matches %q", s)
		}
	}

	// *@* is any well-formed address, and only that.
	anyAddr := mustEmailPattern(t, "*@*")
	if !anyAddr.Match("a@b.example") || anyAddr.Match("a@evil.com@b.example") || anyAddr.Match("a@b.example.") {
		t.Error("*@* matched wrongly")
	}

	// An exact address compares case-insensitively (ASCII), local part too.
	exact := mustEmailPattern(t, "Alice@Example.com")
	for _, s := range []string{"alice@example.com", "ALICE@EXAMPLE.COM", "Alice@Example.com"} {
		if !exact.Match(s) {
			t.Errorf("Alice@Example.com does not match %q", s)
		}
	}
	for _, s := range []string{"alice2@example.com", "bob@example.com", "alice@example.co", "\u0430lice@example.com"} {
		if exact.Match(s) {
			t.Errorf("Alice@Example.com matches %q", s)
		}
	}
	// Unicode case folding would let the Kelvin sign stand for k and the
	// long s for s; only ASCII letters fold.
	for pat, addr := range map[string]string{
		"*@kernel.org": "a@\u212aernel.org", "*@KERNEL.ORG": "a@\u212aernel.org",
		"*@sun.com": "a@\u017fun.com", "kim@example.com": "\u212aim@example.com",
	} {
		if mustEmailPattern(t, pat).Match(addr) {
			t.Errorf("%s matches %q", pat, addr)
		}
	}
	// Non-ASCII letters are not case-folded.
	if mustEmailPattern(t, "élise@example.com").Match("Élise@example.com") {
		t.Error("non-ASCII letters were case-folded")
	}
	// A local-part wildcard cannot reach across the @.
	if mustEmailPattern(t, "a*@example.com").Match("a@evil.com@example.com") {
		t.Error("a wildcard crossed the @")
	}
}

func TestCompileEmailPatternErrors(t *testing.T) {
	for bad, want := range map[string]string{
		"example.com":       "needs an @, e.g. *@example.com",
		"*":                 "needs an @",
		"a@b@example.com":   "more than one @",
		"@example.com":      "needs a local part and a domain",
		"*@":                "needs a local part and a domain",
		"*@example.com.":    "ends with a dot",
		`*@example\.com`:    "is not a domain name",
		"*@*example.com":    "*example.com matches evilexample.com",
		"*@example.*":       "a wildcard elsewhere",
		"*@ex?mple.com":     "a wildcard elsewhere",
		"*@*.*.example.com": "a wildcard elsewhere",
		"*@exa mple.com":    "`exa mple.com` is not a domain name",
		"*@[127.0.0.1]":     "is not a domain name",
		"*@example..com":    "is not a domain name",
		`a\@example.com`:    `\\`,
		"":                  "an empty value never matches",
	} {
		_, err := CompileEmailPattern(bad)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CompileEmailPattern(%q) error %v, want one containing %q", bad, err, want)
		}
	}
}

// TestEmailClaim: only one well-formed address in a string claim is an
// address; arrays and other types are not.
func TestEmailClaim(t *testing.T) {
	for js, want := range map[string]bool{
		`{"email": "a@example.com"}`:                       true,
		`{"email": "A@EXAMPLE.COM"}`:                       true,
		`{"email": ["a@example.com"]}`:                     false,
		`{"email": ["a@example.com", "b@example.com"]}`:    false,
		`{"email": 1}`:                                     false,
		`{"email": true}`:                                  false,
		`{"email": null}`:                                  false,
		`{"email": {"value": "a@example.com"}}`:            false,
		`{"email": ""}`:                                    false,
		`{"email": "a@example.com\u0000"}`:                 false,
		`{}`:                                               false,
		`{"emails": "a@example.com"}`:                      false,
		`{"email": "a@evil.com\u0000@example.com"}`:        false,
		`{"email": "a@example.com", "email.x": "b@x.com"}`: true,
	} {
		got, ok := Email(decodeClaims(t, js))
		if ok != want {
			t.Errorf("Email(%s) = %q, %v; want ok %v", js, got, ok, want)
		}
	}
}

func TestEmailVerified(t *testing.T) {
	for js, want := range map[string]bool{
		`{"email_verified": true}`:    true,
		`{"email_verified": "true"}`:  true,
		`{"email_verified": false}`:   false,
		`{"email_verified": "false"}`: false,
		`{"email_verified": "TRUE"}`:  false,
		`{"email_verified": "yes"}`:   false,
		`{"email_verified": 1}`:       false,
		`{"email_verified": [true]}`:  false,
		`{"email_verified": null}`:    false,
		`{}`:                          false,
	} {
		if got := EmailVerified(decodeClaims(t, js)); got != want {
			t.Errorf("EmailVerified(%s) = %v, want %v", js, got, want)
		}
	}
}
