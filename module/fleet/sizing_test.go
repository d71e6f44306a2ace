package fleet

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/edgeauth/caddy-edgeauth/module/session"
)

// commandCounter is a go-redis hook counting the commands a client sends
// (each command of a pipeline counts), by name.
type commandCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *commandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.add(cmd)
		return next(ctx, cmd)
	}
}
func (c *commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			c.add(cmd)
		}
		return next(ctx, cmds)
	}
}

func (c *commandCounter) add(cmd redis.Cmder) {
	name := cmd.Name()
	if name == "publish" || name == "ping" || name == "hello" || name == "client" {
		return // the near-cache heartbeat and connection set-up
	}
	c.mu.Lock()
	c.n[name]++
	c.mu.Unlock()
}

// take returns the counts since the last take as "total (name n, …)".
func (c *commandCounter) take() (int, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	total := 0
	var parts []string
	for name, n := range c.n {
		total += n
		parts = append(parts, name+" "+itoa(n))
	}
	c.n = map[string]int{}
	return total, strings.Join(parts, ", ")
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// TestNearCacheSizingFigures measures what the README's fleet sizing uses:
// commands a gateway sends per login, per read (near-cache miss and hit),
// per refresh and per logout, and the bytes a session costs in Redis
// (MEMORY USAGE of its value and its two index entries). It asserts that a
// near-cache hit sends nothing and a logout one command.
func TestNearCacheSizingFigures(t *testing.T) {
	rs := startRedis(t)
	c := newClient(t, rs.addr())
	cc := &commandCounter{n: map[string]int{}}
	c.rdb.AddHook(cc)
	st := newTestStore(t, c, func(cfg *StoreConfig) { cfg.NearCache = &NearCacheConfig{} })
	waitCurrent(t, st)
	admin := redis.NewClient(&redis.Options{Addr: rs.addr()})
	defer admin.Close()
	ctx := context.Background()
	rl := NewRefreshLock(st, RefreshLockConfig{})

	// Twice: the first pass loads the scripts (EVALSHA, then EVAL on
	// NOSCRIPT); the second is what a running gateway sends.
	for pass := range 2 {
		cc.take()
		s := nearExpirySession()
		s.Claims["sid"] = "sizing-" + itoa(pass+1) // a login of its own
		r := save(t, st, s)
		login, loginDetail := cc.take()
		if _, err := st.Load(r); err != nil {
			t.Fatal(err)
		}
		miss, missDetail := cc.take()
		for range 100 {
			if _, err := st.Load(r); err != nil {
				t.Fatal(err)
			}
		}
		if hits, detail := cc.take(); hits != 0 {
			t.Errorf("100 near-cache hits sent %d commands (%s), want 0", hits, detail)
		}
		var bytes int64
		var keys []string
		for _, k := range append([]string{st.sessionKey(s.ID)}, st.indexKeys(s)...) {
			n, err := admin.MemoryUsage(ctx, k).Result()
			if err != nil {
				t.Fatalf("MEMORY USAGE: %v", err)
			}
			bytes += n
			kind, _, _ := strings.Cut(strings.TrimPrefix(k, "test:"), ":")
			keys = append(keys, kind+" "+itoa(int(n)))
		}
		val, _ := admin.Get(ctx, st.sessionKey(s.ID)).Result()
		cc.take()

		// A refresh through the RefreshLock, as the flow runs it when due.
		_, err := rl.Refresh(ctx, s, func(ctx context.Context) (*session.Session, error) {
			ns := *s
			ns.AccessToken, ns.RefreshToken = "at-1", "rt-1"
			ns.RefreshedAt = time.Now()
			return &ns, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		refresh, refreshDetail := cc.take()
		if err := st.Clear(httptest.NewRecorder(), r); err != nil {
			t.Fatal(err)
		}
		logout, logoutDetail := cc.take()
		if pass == 0 {
			continue
		}
		if logout != 1 {
			t.Errorf("logout sent %d commands (%s), want 1", logout, logoutDetail)
		}
		t.Logf("commands per operation (one gateway; heartbeats left out): login %d (%s); first read on each gateway %d (%s); near-cache hit 0; refresh %d (%s); logout %d (%s)",
			login, loginDetail, miss, missDetail, refresh, refreshDetail, logout, logoutDetail)
		t.Logf("Redis memory per session (MEMORY USAGE): %d bytes in all (%s); sealed value %d bytes", bytes, strings.Join(keys, ", "), len(val))
	}
}
