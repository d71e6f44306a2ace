package login

import (
	"encoding/json"
	"html"
	"net/http"
)

// setPageHeaders marks a response as private, unframeable and inert.
func setPageHeaders(w http.ResponseWriter, contentType string) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
}

// unavailableRetryAfter is the Retry-After of the login pages' 503s (the
// provider is down, hangs or has not loaded): retrying soon may help.
const unavailableRetryAfter = "5"

// errorPage writes a small HTML page. All text is escaped here; link, when
// not empty, must be a same-site path. A 503 page carries Retry-After, as
// every 503 of the plugin does, unless the caller set one.
func errorPage(w http.ResponseWriter, status int, title, message, link string) {
	setPageHeaders(w, "text/html; charset=utf-8")
	if status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", unavailableRetryAfter)
	}
	w.WriteHeader(status)
	body := "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + html.EscapeString(title) +
		"</title></head><body><h1>" + html.EscapeString(title) + "</h1><p>" + html.EscapeString(message) + "</p>"
	if link != "" {
		body += "<p><a href=\"" + html.EscapeString(link) + "\">Sign in again</a></p>"
	}
	_, _ = w.Write([]byte(body + "</body></html>\n"))
}

// jsonResponse writes v as JSON.
func jsonResponse(w http.ResponseWriter, status int, v any) {
	setPageHeaders(w, "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func htmlEscape(s string) string { return html.EscapeString(s) }
