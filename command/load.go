package edgeauthcmd

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/rewrite"
	"github.com/spf13/cobra"

	edgeauth "github.com/edgeauth/caddy-edgeauth/module"
)

// configFlags adds --config and --adapter, as `caddy validate` has them.
func configFlags(cmd *cobra.Command) {
	cmd.Flags().StringP("config", "c", "", "Configuration file (default: ./Caddyfile)")
	cmd.Flags().StringP("adapter", "a", "", "Name of config adapter to apply (default: caddyfile for a Caddyfile)")
}

// loaded is a config provisioned (its modules set up, as `caddy validate`
// does) but not started: no listener, no background work.
type loaded struct {
	ctx caddy.Context
	app *edgeauth.App
}

// load adapts and provisions the config named by --config/--adapter.
func load(cmd *cobra.Command) (*loaded, error) {
	file, _ := cmd.Flags().GetString("config")
	adapter, _ := cmd.Flags().GetString("adapter")
	cfgJSON, _, _, err := caddycmd.LoadConfig(file, adapter)
	if err != nil {
		return nil, err
	}
	if len(cfgJSON) == 0 {
		return nil, fmt.Errorf("no config: pass --config <Caddyfile> (no ./Caddyfile here)")
	}
	var cfg caddy.Config
	if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
		return nil, fmt.Errorf("decoding the config: %v", err)
	}
	ctx, err := caddy.ProvisionContext(&cfg)
	if err != nil {
		return nil, fmt.Errorf("loading the config: %v", err)
	}
	v, err := ctx.AppIfConfigured("edgeauth")
	if err != nil || v == nil {
		return nil, fmt.Errorf("the config has no edgeauth app: add the edgeauth global option with a provider")
	}
	return &loaded{ctx: ctx, app: v.(*edgeauth.App)}, nil
}

// close releases what provisioning took (the providers' shared state).
func (l *loaded) close() { _ = l.app.Cleanup() }

// route is one edgeauth handler that a request reaches.
type route struct {
	server  string
	handler *edgeauth.Handler
	req     *http.Request // the request as the handler sees it (after rewrites)
}

// findHandlers walks the HTTP servers' routes as Caddy would for r and
// returns the edgeauth handlers the request passes, in order. Only the
// servers listening on r's port are considered when the host names one.
// Route matchers run for real; rewrite handlers (such as handle_path's
// prefix strip) are applied, other handlers are not run.
func findHandlers(ctx caddy.Context, r *http.Request) ([]route, error) {
	v, err := ctx.AppIfConfigured("http")
	if err != nil || v == nil {
		return nil, fmt.Errorf("the config has no HTTP servers")
	}
	httpApp := v.(*caddyhttp.App)
	names := make([]string, 0, len(httpApp.Servers))
	for name := range httpApp.Servers {
		names = append(names, name)
	}
	sort.Strings(names)
	port := r.URL.Port()
	for _, name := range names {
		srv := httpApp.Servers[name]
		if port != "" && !listensOn(srv, port) {
			continue
		}
		req := caddyhttp.PrepareRequest(r.Clone(r.Context()), caddy.NewReplacer(), nil, srv)
		var found []route
		walkRoutes(srv.Routes, req, func(h *edgeauth.Handler, at *http.Request) {
			found = append(found, route{server: name, handler: h, req: at.Clone(at.Context())})
		})
		if len(found) > 0 {
			return found, nil
		}
	}
	return nil, nil
}

// listensOn reports whether srv listens on port.
func listensOn(srv *caddyhttp.Server, port string) bool {
	p, err := strconv.ParseUint(port, 10, 32)
	if err != nil {
		return false
	}
	for _, l := range srv.Listen {
		addr, err := caddy.ParseNetworkAddress(l)
		if err == nil && uint(p) >= addr.StartPort && uint(p) <= addr.EndPort {
			return true
		}
	}
	return false
}

// walkRoutes follows routes as Caddy compiles them: a route runs when its
// matchers match, only the first matching route of a group runs, and a
// terminal route ends the list. It reports whether a terminal route ended it.
func walkRoutes(routes caddyhttp.RouteList, r *http.Request, visit func(*edgeauth.Handler, *http.Request)) bool {
	groups := map[string]bool{}
	for _, rt := range routes {
		if rt.Group != "" && groups[rt.Group] {
			continue
		}
		if ok, err := rt.MatcherSets.AnyMatchWithError(r); err != nil || !ok {
			continue
		}
		if rt.Group != "" {
			groups[rt.Group] = true
		}
		for _, h := range rt.Handlers {
			switch h := h.(type) {
			case *edgeauth.Handler:
				visit(h, r)
			case *caddyhttp.Subroute:
				if walkRoutes(h.Routes, r, visit) {
					return true
				}
			case *rewrite.Rewrite:
				_ = h.ServeHTTP(nil, r, caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil }))
			}
		}
		if rt.Terminal {
			return true
		}
	}
	return false
}
