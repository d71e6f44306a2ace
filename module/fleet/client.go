package fleet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/edgeauth/caddy-edgeauth/module/sts"
)

// Client is a Redis connection pool shared by the fleet building blocks. It
// is safe for concurrent use. After a failed command it answers
// ErrUnavailable at once for Config.RetryInterval (so an outage costs one
// timeout, not one per request) and then tries Redis again: recovery needs
// no restart.
type Client struct {
	rdb       redis.UniversalClient
	prefix    string
	retry     time.Duration
	downUntil atomic.Int64 // Unix nanoseconds; 0 = up
}

// New validates cfg and returns a client. It does no network I/O: Redis
// may be down at start (call Ping to check).
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.withDefaults()
	opts := &redis.UniversalOptions{
		Addrs:            cfg.Addrs,
		MasterName:       cfg.MasterName,
		IsClusterMode:    cfg.Cluster,
		Username:         cfg.Username,
		Password:         cfg.Password,
		SentinelPassword: cfg.SentinelPassword,
		DB:               cfg.DB,
		TLSConfig:        cfg.TLS,
		ClientName:       "edgeauth",
		DialTimeout:      cfg.DialTimeout,
		ReadTimeout:      cfg.ReadTimeout,
		WriteTimeout:     cfg.WriteTimeout,
		PoolTimeout:      cfg.PoolTimeout,
		PoolSize:         cfg.PoolSize,
		// One dial attempt and one command retry (for a pooled connection
		// that died with a Redis restart): a dead Redis costs at most about
		// two timeouts.
		DialerRetries:         1,
		MaxRetries:            1,
		ContextTimeoutEnabled: true,
		MaintNotificationsConfig: &maintnotifications.Config{
			Mode: maintnotifications.ModeDisabled,
		},
	}
	return &Client{rdb: redis.NewUniversalClient(opts), prefix: cfg.KeyPrefix, retry: cfg.RetryInterval}, nil
}

// Close closes the pool.
func (c *Client) Close() error { return c.rdb.Close() }

// Ping checks that Redis answers. It always tries (ignoring the wait after
// a failure) and a success ends that wait.
func (c *Client) Ping(ctx context.Context) error {
	if err := c.rdb.Ping(ctx).Err(); err != nil {
		if !callerGaveUp(ctx) {
			c.trip()
		}
		return &UnavailableError{Op: "ping", RetryAfter: c.retry, Err: err}
	}
	c.downUntil.Store(0)
	return nil
}

// KeyPrefix is the configured key prefix.
func (c *Client) KeyPrefix() string { return c.prefix }

func (c *Client) trip() { c.downUntil.Store(time.Now().Add(c.retry).UnixNano()) }

// call runs fn unless Redis failed within RetryInterval. redis.Nil is
// passed through; every other error becomes an *UnavailableError (and,
// unless the caller's ctx ended, starts a RetryInterval wait).
func (c *Client) call(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	if until := c.downUntil.Load(); until != 0 {
		if rem := time.Until(time.Unix(0, until)); rem > 0 {
			return &UnavailableError{Op: op, RetryAfter: rem, Err: errCircuitOpen}
		}
	}
	err := fn(ctx)
	if err == nil || errors.Is(err, redis.Nil) {
		return err
	}
	if !callerGaveUp(ctx) {
		c.trip()
	}
	return &UnavailableError{Op: op, RetryAfter: c.retry, Err: err}
}

// callerGaveUp reports whether ctx has ended or its deadline has passed. A
// command cut short by the caller's deadline says nothing about Redis. The
// deadline is checked too because go-redis sets the connection's read
// deadline from it: the read can fail at the deadline a moment before the
// context's own timer marks ctx done.
func callerGaveUp(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	deadline, ok := ctx.Deadline()
	return ok && !time.Now().Before(deadline)
}

// key builds a key: prefix + kind + ":" + hex(SHA-256 of the
// length-prefixed parts). No raw session ID, subject or jti is stored.
func (c *Client) key(kind string, parts ...string) string {
	return c.prefix + kind + ":" + sts.Key(parts...)
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
