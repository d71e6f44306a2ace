package edgeauthcmd

import (
	"fmt"
	"io"
	"strings"
)

// isBidiControl reports whether r is a Unicode bidirectional formatting
// character: the embeddings and overrides U+202A–U+202E, the isolates
// U+2066–U+2069, and the marks U+200E, U+200F and U+061C. Printed raw,
// they reorder how a terminal shows the rest of the line.
func isBidiControl(r rune) bool {
	switch {
	case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069':
		return true
	}
	return r == '\u200e' || r == '\u200f' || r == '\u061c'
}

// escapeBidi returns s with every bidi control written as a visible
// \uXXXX escape, so that a value taken from an unverified token cannot
// make a line on the operator's terminal read as something else (such as
// a fake verdict). Other bytes pass unchanged.
func escapeBidi(s string) string {
	if strings.IndexFunc(s, isBidiControl) < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s {
		if isBidiControl(r) {
			fmt.Fprintf(&b, `\u%04X`, r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// bidiSafeWriter escapes bidi controls in everything written through it.
// Each Write must hold whole UTF-8 sequences, as one fmt.Fprint* call does.
type bidiSafeWriter struct{ w io.Writer }

// terminalSafe wraps w for explain's output (once).
func terminalSafe(w io.Writer) io.Writer {
	if _, ok := w.(bidiSafeWriter); ok {
		return w
	}
	return bidiSafeWriter{w}
}

// Write escapes p's bidi controls and writes it; it reports len(p) on
// success, as the caller's bytes were all consumed.
func (s bidiSafeWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(s.w, escapeBidi(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
