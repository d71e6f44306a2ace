package edgeauthcaddyfile

// The README's per-user rate limit example uses rate_limit from
// caddy-ratelimit; the adapt and load tests need its directive registered.
// A test-only import: the production binary (cmd/caddy) does not link it.
import _ "github.com/mholt/caddy-ratelimit"
