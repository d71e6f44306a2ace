package login

import (
	"net/http/httptest"
	"testing"
)

func TestIsBrowserNavigation(t *testing.T) {
	const html = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	cases := []struct {
		name    string
		method  string
		headers map[string]string
		want    bool
	}{
		{"browser GET", "GET", map[string]string{"Accept": html, "Sec-Fetch-Mode": "navigate"}, true},
		{"old browser without Sec-Fetch", "GET", map[string]string{"Accept": html}, true},
		{"HEAD", "HEAD", map[string]string{"Accept": "TEXT/HTML"}, true},
		{"POST", "POST", map[string]string{"Accept": html}, false},
		{"API JSON", "GET", map[string]string{"Accept": "application/json"}, false},
		{"no Accept", "GET", nil, false},
		{"wildcard only", "GET", map[string]string{"Accept": "*/*"}, false},
		{"bearer", "GET", map[string]string{"Accept": html, "Authorization": "Bearer x"}, false},
		{"XHR", "GET", map[string]string{"Accept": html, "X-Requested-With": "XMLHttpRequest"}, false},
		{"fetch cors", "GET", map[string]string{"Accept": html, "Sec-Fetch-Mode": "cors"}, false},
		{"iframe no-cors", "GET", map[string]string{"Accept": html, "Sec-Fetch-Mode": "no-cors"}, false},
		{"text/htmlx is not html", "GET", map[string]string{"Accept": "text/htmlx"}, false},
	}
	for _, c := range cases {
		r := httptest.NewRequest(c.method, "/x", nil)
		for k, v := range c.headers {
			r.Header.Set(k, v)
		}
		if got := IsBrowserNavigation(r); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}
