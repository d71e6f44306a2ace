package fleet

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

// Defaults for Config. They are short on purpose: a request that needs
// Redis must fail within about a second when Redis is gone, never hang.
const (
	DefaultKeyPrefix     = "edgeauth:"
	DefaultDialTimeout   = 500 * time.Millisecond
	DefaultReadTimeout   = 500 * time.Millisecond
	DefaultWriteTimeout  = 500 * time.Millisecond
	DefaultPoolTimeout   = time.Second
	DefaultRetryInterval = time.Second
)

// Config says how to reach Redis. One address is a single server; several
// addresses with Cluster are a Redis Cluster; MasterName makes the
// addresses Sentinels watching that master.
type Config struct {
	// Addrs are host:port addresses (at least one).
	Addrs []string
	// MasterName is the Sentinel master name; empty when not using Sentinel.
	MasterName string
	// Cluster selects Redis Cluster (DB must then be 0).
	Cluster bool
	// Username and Password authenticate (ACL user, or password only).
	// They are never printed or logged.
	Username, Password string
	// SentinelPassword authenticates to the Sentinels when it differs
	// from Password.
	SentinelPassword string
	// DB is the database number (single server or Sentinel only).
	DB int
	// TLS, when set, connects with TLS (see TLSFromCA).
	TLS *tls.Config
	// KeyPrefix starts every key (default "edgeauth:"), so that one Redis
	// can serve several gateways or applications.
	KeyPrefix string
	// DialTimeout, ReadTimeout, WriteTimeout and PoolTimeout bound each
	// step of a command (defaults 500ms, 500ms, 500ms, 1s).
	DialTimeout, ReadTimeout, WriteTimeout, PoolTimeout time.Duration
	// PoolSize is the connection pool size per node (default: go-redis's,
	// 10 per CPU).
	PoolSize int
	// RetryInterval: after a failed command the client answers "unavailable"
	// at once for this long instead of waiting on timeouts again, then
	// tries Redis again (default 1s). It is the Retry-After of the 503.
	RetryInterval time.Duration
}

func (c *Config) withDefaults() {
	if c.KeyPrefix == "" {
		c.KeyPrefix = DefaultKeyPrefix
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.PoolTimeout <= 0 {
		c.PoolTimeout = DefaultPoolTimeout
	}
	if c.RetryInterval <= 0 {
		c.RetryInterval = DefaultRetryInterval
	}
}

// Validate checks the configuration; errors name the setting and the fix.
func (c Config) Validate() error {
	if len(c.Addrs) == 0 {
		return errors.New("fleet: store redis: no address; set `address host:port`")
	}
	for _, a := range c.Addrs {
		host, port, err := net.SplitHostPort(a)
		if err != nil || host == "" || port == "" {
			return fmt.Errorf("fleet: store redis: address %q is not host:port (for example 127.0.0.1:6379)", a)
		}
	}
	if c.Cluster && c.MasterName != "" {
		return errors.New("fleet: store redis: use either cluster or a Sentinel master name, not both")
	}
	if c.Cluster && c.DB != 0 {
		return fmt.Errorf("fleet: store redis: db %d is not possible with Redis Cluster, which only has db 0; remove db", c.DB)
	}
	if c.DB < 0 {
		return fmt.Errorf("fleet: store redis: db %d is negative; use 0 or more", c.DB)
	}
	if strings.ContainsAny(c.KeyPrefix, " \t\r\n") {
		return fmt.Errorf("fleet: store redis: key_prefix %q contains white space; use for example \"edgeauth:\"", c.KeyPrefix)
	}
	return nil
}

// TLSFromCA returns a TLS configuration (TLS 1.2 or later) trusting the
// system roots plus the PEM certificates in caFile (when not empty).
// serverName overrides the name checked in the server certificate (empty:
// the host of the address).
func TLSFromCA(caFile, serverName string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName}
	if caFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("fleet: store redis: reading tls ca file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("fleet: store redis: tls ca file %q holds no PEM certificate", caFile)
	}
	cfg.RootCAs = pool
	return cfg, nil
}
