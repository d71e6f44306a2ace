package login

import (
	"net/http"
	"strings"
)

// IsBrowserNavigation reports whether r looks like a top-level browser
// navigation that may be answered with a redirect to the login page
// (docs/CONTRACT.md, "The request pipeline", step 6): GET or HEAD, an Accept header that
// includes text/html, no Authorization header, not an XMLHttpRequest, and
// Sec-Fetch-Mode "navigate" when the browser sends that header.
func IsBrowserNavigation(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	if r.Header.Get("Authorization") != "" {
		return false
	}
	if strings.EqualFold(strings.TrimSpace(r.Header.Get("X-Requested-With")), "XMLHttpRequest") {
		return false
	}
	if mode := r.Header.Values("Sec-Fetch-Mode"); len(mode) > 0 && !strings.EqualFold(strings.TrimSpace(mode[0]), "navigate") {
		return false
	}
	for _, accept := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(accept, ",") {
			mt, _, _ := strings.Cut(part, ";")
			if strings.EqualFold(strings.TrimSpace(mt), "text/html") {
				return true
			}
		}
	}
	return false
}
