package identity

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSanitize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain ASCII ~!", "plain ASCII ~!"},
		{"a\r\nb", "ab"},
		{"nul\x00byte", "nulbyte"},
		{"tab\there", "tabhere"},
		{"del\x7f", "del"},
		{"esc\x1b[31m", "esc[31m"},
		{"c1 \u0080\u0085\u009f end", "c1  end"},
		{"nbsp\u00a0kept", "nbsp\u00a0kept"},
		{"张三 👋", "张三 👋"},
		{"bad \xff\xfe utf8 \xc3", "bad  utf8 "},
		{"overlong \xc0\xaf", "overlong "},
		{"surrogate \xed\xa0\x80", "surrogate "},
		{"literal U+FFFD \uFFFD kept", "literal U+FFFD \uFFFD kept"},
	}
	for _, tt := range tests {
		if got := Sanitize(tt.in); got != tt.want {
			t.Errorf("Sanitize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSanitizeCleanDoesNotAllocate(t *testing.T) {
	in := strings.Repeat("user@example.com 张三 👋 ", 4)
	var out string
	allocs := testing.AllocsPerRun(100, func() { out = Sanitize(in) })
	if allocs != 0 {
		t.Errorf("Sanitize of a clean string allocated %v times", allocs)
	}
	if out != in {
		t.Errorf("clean string changed: %q", out)
	}
}

// FuzzSanitize checks that the output never holds a control character or
// invalid UTF-8, that clean input is kept and that sanitizing is idempotent.
func FuzzSanitize(f *testing.F) {
	for _, s := range []string{"", "abc", "a\r\nb", "\x00\x7f", "\u0085", "\xff", "👋", "\xe2\x82", "x\tz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Sanitize(s)
		if !utf8.ValidString(out) {
			t.Fatalf("Sanitize(%q) = %q: invalid UTF-8", s, out)
		}
		for _, r := range out {
			if r < 0x20 || r == 0x7f || isC1(r) {
				t.Fatalf("Sanitize(%q) = %q: control character %U kept", s, out, r)
			}
		}
		if Sanitize(out) != out {
			t.Fatalf("Sanitize not idempotent on %q", s)
		}
		if len(out) > len(s) {
			t.Fatalf("Sanitize(%q) grew to %q", s, out)
		}
	})
}
