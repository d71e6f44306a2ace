// Package caddyedgeauth is the root of the edgeauth plugin for Caddy. Import it
// (or build with `xcaddy build --with github.com/edgeauth/caddy-edgeauth`) to
// get the edgeauth app, handler, authentication provider and Caddyfile support.
package caddyedgeauth

import (
	// The Caddyfile registration, which imports the modules themselves.
	_ "github.com/edgeauth/caddy-edgeauth/caddyfile"
	// The `caddy edgeauth` command.
	_ "github.com/edgeauth/caddy-edgeauth/command"
	_ "github.com/edgeauth/caddy-edgeauth/module"
)
