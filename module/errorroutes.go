package edgeauth

import (
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// Why edgeauth looks at the server's handle_errors routes itself.
//
// A handler that returns an error hands the answer to Caddy: with no error
// routes, or with error routes of which none takes the error, Caddy writes
// the status and an empty body (caddyhttp's errorEmptyHandler; a Caddyfile
// site's handle_errors block is a terminal route matched on the site's
// hosts, so a `handle_errors 404` block, or one on another site of the same
// server, ends there for a 401). Returning errors unconditionally would take
// edgeauth's JSON bodies away from every such site. Writing the default body
// whenever the server has error routes at all would ignore the status codes
// and hosts the operator wrote. So edgeauth asks what Caddy is about to do:
// it evaluates the server's error routes' matchers as Caddy will (same
// request, same placeholders, subroutes and terminal routes followed, route
// groups honoured) and returns the error only when a route with a handler of
// the operator's would run. Nothing is executed to find out: only matchers
// are evaluated. Error routes of a JSON `subroute` handler's own `errors`
// are not consulted (the Caddyfile has no such form).

// maxErrorRouteDepth bounds the nesting of subroutes followed.
const maxErrorRouteDepth = 16

// errorRoutesTake reports whether one of the server's error routes would
// handle herr for r. When none would, the {http.error.*} placeholders set
// for the evaluation are removed again.
func errorRoutesTake(r *http.Request, herr caddyhttp.HandlerError) bool {
	srv, _ := r.Context().Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server)
	if srv == nil || srv.Errors == nil || len(srv.Errors.Routes) == 0 {
		return false
	}
	repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if !ok {
		return false
	}
	er := srv.Errors.WithError(originalRequest(r), herr)
	taken, _ := routesTake(srv.Errors.Routes, er, map[string]bool{}, 0)
	if !taken {
		for _, k := range []string{"http.error", "http.error.status_code", "http.error.status_text", "http.error.id", "http.error.trace", "http.error.message"} {
			repl.Delete(k)
		}
	}
	return taken
}

// originalRequest is a shallow copy of r with the method, address and URL
// the client sent, as Caddy restores them before its error routes run
// (rewrites undone).
func originalRequest(r *http.Request) *http.Request {
	or, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request)
	cp := r.WithContext(r.Context())
	if !ok || or.URL == nil {
		return cp
	}
	u := *or.URL
	cp.Method, cp.RemoteAddr, cp.RequestURI, cp.URL = or.Method, or.RemoteAddr, or.RequestURI, &u
	return cp
}

// routesTake walks routes as caddyhttp.RouteList.Compile would run them for
// r: taken is true when a matching route reaches a handler other than a
// subroute; stop is true when a matching terminal route ended the walk
// without one (Caddy then answers with an empty body).
func routesTake(routes caddyhttp.RouteList, r *http.Request, groups map[string]bool, depth int) (taken, stop bool) {
	if depth > maxErrorRouteDepth {
		return true, true // too deep to tell: leave it to Caddy
	}
	for _, route := range routes {
		if route.Group != "" && groups[route.Group] {
			continue
		}
		match, err := route.MatcherSets.AnyMatchWithError(r)
		if err != nil {
			return true, true // Caddy returns the matcher's error: its answer
		}
		if !match {
			continue
		}
		if route.Group != "" {
			groups[route.Group] = true
		}
		for _, h := range route.Handlers {
			sr, ok := h.(*caddyhttp.Subroute)
			if !ok {
				return true, true
			}
			if taken, stop := routesTake(sr.Routes, r, groups, depth+1); taken || stop {
				return taken, stop
			}
		}
		if route.Terminal {
			return false, true
		}
	}
	return false, false
}
