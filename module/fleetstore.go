package edgeauth

import (
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/edgeauth/caddy-edgeauth/module/fleet"
	"github.com/edgeauth/caddy-edgeauth/module/session"
)

// StoreConfig selects a server-side session store, for fleets of Caddy
// instances. Without one, the whole session lives in the sealed cookie.
type StoreConfig struct {
	// Redis keeps sessions (sealed) in Redis; the cookie then holds only a
	// sealed session ID. Logout and back-channel logout end a session on
	// every instance, one instance refreshes a session while the others use
	// its result, and STS credentials are shared.
	Redis *RedisStoreConfig `json:"redis,omitempty"`
}

// RedisStoreConfig says how to reach Redis.
type RedisStoreConfig struct {
	// Addresses are host:port addresses: one server, the Sentinels (with
	// SentinelMaster) or cluster nodes (with Cluster).
	Addresses []string `json:"addresses"`
	// SentinelMaster is the Sentinel master name.
	SentinelMaster string `json:"sentinel_master,omitempty"`
	// Cluster selects Redis Cluster.
	Cluster bool `json:"cluster,omitempty"`
	// Username is the ACL user.
	Username string `json:"username,omitempty"`
	// Password authenticates; use a placeholder such as {env.REDIS_PASSWORD}.
	Password string `json:"password,omitempty"`
	// DB is the database number (not with Cluster).
	DB int `json:"db,omitempty"`
	// KeyPrefix starts every key. Default: edgeauth:.
	KeyPrefix string `json:"key_prefix,omitempty"`
	// TLS connects with TLS (system roots plus TLSCA).
	TLS bool `json:"tls,omitempty"`
	// TLSCA is a PEM file of CA certificates for Redis's TLS (implies TLS).
	TLSCA string `json:"tls_ca,omitempty"`
	// TLSServerName overrides the name checked in Redis's certificate.
	TLSServerName string `json:"tls_server_name,omitempty"`
	// Fallback is what happens while Redis is unreachable: `closed` (the
	// default: requests that need a session get 503 with Retry-After) or
	// `cookie` (sessions made during the outage live in the cookie, and are
	// refused again once Redis is back).
	Fallback string `json:"fallback,omitempty"`
	// Timeout bounds connecting, reading and writing. Default: 500ms.
	Timeout caddy.Duration `json:"timeout,omitempty"`
	// NearCache bounds the in-memory copy of sessions each instance keeps
	// (on by default; see NearCacheConfig).
	NearCache *NearCacheConfig `json:"near_cache,omitempty"`
}

// provisionRedis connects the session store to Redis (lazily: nothing is
// sent until the first request) and returns the client to close at cleanup.
func (a *App) provisionRedis(rc *RedisStoreConfig, sealer *session.Sealer, cookie session.CookieOptions, lifetime time.Duration) (*fleet.Client, *fleet.Store, error) {
	repl := caddy.NewReplacer()
	cfg := fleet.Config{
		Addrs:      rc.Addresses,
		MasterName: rc.SentinelMaster,
		Cluster:    rc.Cluster,
		Username:   repl.ReplaceKnown(rc.Username, ""),
		Password:   repl.ReplaceKnown(rc.Password, ""),
		DB:         rc.DB,
		KeyPrefix:  rc.KeyPrefix,
	}
	if rc.Timeout < 0 {
		return nil, nil, fmt.Errorf("edgeauth: session store redis timeout must not be negative")
	}
	if t := time.Duration(rc.Timeout); t > 0 {
		cfg.DialTimeout, cfg.ReadTimeout, cfg.WriteTimeout = t, t, t
	}
	if rc.TLS || rc.TLSCA != "" {
		tlsCfg, err := fleet.TLSFromCA(repl.ReplaceKnown(rc.TLSCA, ""), rc.TLSServerName)
		if err != nil {
			return nil, nil, fmt.Errorf("edgeauth: session store redis: %v", err)
		}
		cfg.TLS = tlsCfg
	}
	var fallback fleet.Fallback
	switch rc.Fallback {
	case "", "closed":
		fallback = fleet.FallbackClosed
	case "cookie":
		fallback = fleet.FallbackCookie
	default:
		return nil, nil, fmt.Errorf("edgeauth: session store redis fallback %q: use closed or cookie", rc.Fallback)
	}
	if err := cfg.Validate(); err != nil {
		return nil, nil, fmt.Errorf("edgeauth: session store redis: %v", err)
	}
	client, err := fleet.New(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("edgeauth: session store redis: %v", err)
	}
	near, err := rc.NearCache.fleetConfig()
	if err != nil {
		_ = client.Close()
		return nil, nil, err
	}
	store, err := fleet.NewStore(client, fleet.StoreConfig{Sealer: sealer, Cookie: cookie, Lifetime: lifetime, Fallback: fallback, NearCache: near,
		Logger: a.logger.Named("session.redis")})
	if err != nil {
		_ = client.Close()
		return nil, nil, fmt.Errorf("edgeauth: session store redis: %v", err)
	}
	return client, store, nil
}
