// Command caddy is stock Caddy with the edgeauth plugin built in.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/edgeauth/caddy-edgeauth"
)

func main() {
	caddycmd.Main()
}
