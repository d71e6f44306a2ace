package redistest

import (
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clients holds the admin connections of a Cluster or Sentinel setup, one
// per address, closed when the test ends. They are plain one-node clients
// with short timeouts and no retries, so a dead server answers at once.
type clients struct {
	mu        sync.Mutex
	nodes     map[string]*redis.Client
	sentinels map[string]*redis.SentinelClient
}

func adminOptions(addr string) *redis.Options {
	return &redis.Options{Addr: addr, DialTimeout: time.Second, ReadTimeout: 3 * time.Second, MaxRetries: -1, PoolSize: 2}
}

func (cs *clients) node(t testing.TB, addr string) *redis.Client {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if c := cs.nodes[addr]; c != nil {
		return c
	}
	if cs.nodes == nil {
		cs.nodes = map[string]*redis.Client{}
	}
	c := redis.NewClient(adminOptions(addr))
	cs.nodes[addr] = c
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func (cs *clients) sentinel(t testing.TB, addr string) *redis.SentinelClient {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if c := cs.sentinels[addr]; c != nil {
		return c
	}
	if cs.sentinels == nil {
		cs.sentinels = map[string]*redis.SentinelClient{}
	}
	c := redis.NewSentinelClient(adminOptions(addr))
	cs.sentinels[addr] = c
	t.Cleanup(func() { _ = c.Close() })
	return c
}
