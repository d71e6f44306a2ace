package whoami

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzHTMLEscaping: no header value reaches the HTML page with a raw '<'.
func FuzzHTMLEscaping(f *testing.F) {
	for _, seed := range []string{"<script>alert(1)</script>", `"><img src=x onerror=alert(1)>`, "plain", "<", "&lt;<", "\u2028<b>"} {
		f.Add(seed)
	}
	h := Handler()
	f.Fuzz(func(t *testing.T, v string) {
		if strings.ContainsAny(v, "\r\n\x00") {
			return // not a valid header value
		}
		marker := "<zq" + v
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Accept", "text/html")
		r.Header.Set("X-Auth-Name", marker)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if strings.Contains(w.Body.String(), "<zq") {
			t.Fatalf("value %q reflected with a raw '<'", v)
		}
	})
}
