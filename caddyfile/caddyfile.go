// Package edgeauthcaddyfile registers edgeauth with Caddy's Caddyfile
// adapter: the `edgeauth` global option, the `edgeauth` directive and the
// directive's place in the handler order (right after basic_auth), so that a
// Caddyfile needs no `order` line. The syntax is documented on the
// UnmarshalCaddyfile methods of the module package.
package edgeauthcaddyfile

import (
	"encoding/json"
	"fmt"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	edgeauth "github.com/edgeauth/caddy-edgeauth/module"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("edgeauth", parseGlobalOption)
	httpcaddyfile.RegisterHandlerDirective("edgeauth", parseDirective)
	httpcaddyfile.RegisterDirectiveOrder("edgeauth", httpcaddyfile.After, "basic_auth")
}

// parseGlobalOption turns the `edgeauth { … }` global option into the
// edgeauth app. Repeated blocks are merged into one app.
func parseGlobalOption(d *caddyfile.Dispenser, existing any) (any, error) {
	app := new(edgeauth.App)
	if prev, ok := existing.(httpcaddyfile.App); ok {
		if err := json.Unmarshal(prev.Value, app); err != nil {
			return nil, fmt.Errorf("merging edgeauth options: %v", err)
		}
	}
	if err := app.UnmarshalCaddyfile(d); err != nil {
		return nil, err
	}
	return httpcaddyfile.App{Name: "edgeauth", Value: caddyconfig.JSON(app, nil)}, nil
}

// parseDirective sets up the handler from the `edgeauth` directive.
func parseDirective(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	handler := new(edgeauth.Handler)
	err := handler.UnmarshalCaddyfile(h.Dispenser)
	return handler, err
}
