package fleet

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/sts"
)

func newSharedCache(t *testing.T, addr string) (*sts.Cache, *STSStore) {
	return newSharedCacheOn(t, newClient(t, addr))
}

// newSharedCacheOn is newSharedCache on a given client (e.g. a cluster).
func newSharedCacheOn(t *testing.T, c *Client) (*sts.Cache, *STSStore) {
	sh, err := NewSTSStore(c, testSealer(t))
	if err != nil {
		t.Fatal(err)
	}
	return sts.NewCache(sts.CacheConfig{Shared: sh, RefreshMargin: 3 * time.Minute}), sh
}

// exchanger counts exchanges and hands out distinct credentials.
type exchanger struct {
	n     atomic.Int32
	delay time.Duration
}

func (e *exchanger) fetch(context.Context) (*sts.Credentials, error) {
	n := e.n.Add(1)
	time.Sleep(e.delay)
	return &sts.Credentials{
		AccessKeyID: "STS.KEY" + string(rune('A'+n-1)), AccessKeySecret: "SECRET-ACCESS-KEY-VALUE",
		SecurityToken: "SECURITY-TOKEN-VALUE", Expiration: time.Now().Add(time.Hour), RequestID: "req-1",
		AssumedRoleARN: "acs:ram::1:role/app",
	}, nil
}

func TestSharedSTSOneExchangePerFleet(t *testing.T) {
	rs := startRedis(t)
	var caches []*sts.Cache
	var stores []*STSStore
	for range 3 {
		c, s := newSharedCache(t, rs.addr())
		caches, stores = append(caches, c), append(stores, s)
	}
	ex := &exchanger{delay: 150 * time.Millisecond}
	key := sts.Key("acs:ram::1:role/app", "https://op.example", "alice")
	sourceExpiry := time.Now().Add(2 * time.Hour)

	const n = 50
	var wg sync.WaitGroup
	ids := make([]string, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			cr, err := caches[i%3].Get(context.Background(), key, sourceExpiry, ex.fetch)
			errs[i] = err
			if cr != nil {
				ids[i] = cr.AccessKeyID + "/" + cr.AccessKeySecret + "/" + cr.SecurityToken
			}
		}()
	}
	close(start)
	wg.Wait()
	if got := ex.n.Load(); got != 1 {
		t.Fatalf("%d exchanges for %d concurrent requests over 3 instances, want exactly 1", got, n)
	}
	for i := range n {
		if errs[i] != nil || ids[i] != "STS.KEYA/SECRET-ACCESS-KEY-VALUE/SECURITY-TOKEN-VALUE" {
			t.Errorf("request %d: %q, %v", i, ids[i], errs[i])
		}
	}
	var shared uint64
	for _, c := range caches {
		shared += c.Stats().SharedHits
	}
	if shared < 2 {
		t.Errorf("only %d shared hits: the other instances did not use the stored credentials", shared)
	}

	// Stored sealed, with a TTL ending RefreshMargin before Expiration.
	cl := stores[0].c
	values := allValues(t, cl)
	if len(values) != 1 {
		t.Fatalf("want one key (credentials; lock released), got %v", keys(values))
	}
	for k, v := range values {
		for _, secret := range []string{"SECRET-ACCESS-KEY-VALUE", "SECURITY-TOKEN-VALUE", "STS.KEY", "alice", key} {
			if strings.Contains(k, secret) || strings.Contains(v, secret) {
				t.Errorf("Redis holds %q in clear", secret)
			}
		}
		ttl := cl.rdb.PTTL(context.Background(), k).Val()
		if ttl > 57*time.Minute || ttl < 56*time.Minute {
			t.Errorf("credential TTL %v, want about 57m (1h expiration − 3m margin)", ttl)
		}
	}
	// A fourth instance (a new process) gets them without exchanging.
	c4, _ := newSharedCache(t, rs.addr())
	if cr, err := c4.Get(context.Background(), key, sourceExpiry, ex.fetch); err != nil || cr.AccessKeyID != "STS.KEYA" || ex.n.Load() != 1 {
		t.Fatalf("new instance: %v, %v, %d exchanges", cr, err, ex.n.Load())
	}
}

func TestSharedSTSRespectsSourceExpiry(t *testing.T) {
	rs := startRedis(t)
	_, sh := newSharedCache(t, rs.addr())
	ctx := context.Background()
	cr := &sts.Credentials{AccessKeyID: "STS.K", AccessKeySecret: "s", SecurityToken: "t", Expiration: time.Now().Add(time.Hour)}
	key := sts.Key("role", "alice")
	// The caller's token expires in 10 minutes: validUntil (and TTL) follow it.
	c := sts.NewCache(sts.CacheConfig{Shared: sh})
	if _, err := c.Get(ctx, key, time.Now().Add(10*time.Minute), func(context.Context) (*sts.Credentials, error) { return cr, nil }); err != nil {
		t.Fatal(err)
	}
	ttl := sh.c.rdb.PTTL(ctx, sh.c.key("sts", key)).Val()
	if ttl > 10*time.Minute || ttl < 9*time.Minute {
		t.Errorf("TTL %v, want the source token's 10 minutes", ttl)
	}
	got, until, err := sh.Get(ctx, key)
	if err != nil || got == nil || got.AccessKeySecret != "s" || got.SecurityToken != "t" || !got.Expiration.Equal(cr.Expiration.Truncate(time.Millisecond)) {
		t.Fatalf("Get: %+v %v", got, err)
	}
	if d := time.Until(until); d > 10*time.Minute || d < 9*time.Minute {
		t.Errorf("validUntil in %v, want 10m", d)
	}
	// Expired credentials are not stored.
	if err := sh.Set(ctx, "old", cr, time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := sh.Get(ctx, "old"); got != nil {
		t.Error("credentials past validUntil were stored")
	}
	// Another secret cannot read them.
	other, _ := NewSTSStore(sh.c, mustSealer(t, "another-secret-another-secret-another-secret"))
	if got, _, err := other.Get(ctx, key); got != nil || err != nil {
		t.Errorf("store with another secret read credentials: %v %v", got, err)
	}
}

func TestSharedSTSRedisDownStillExchanges(t *testing.T) {
	rs := startRedis(t)
	c, _ := newSharedCache(t, rs.addr())
	rs.stop()
	ex := &exchanger{}
	start := time.Now()
	cr, err := c.Get(context.Background(), sts.Key("role", "bob"), time.Time{}, ex.fetch)
	if err != nil || cr == nil || ex.n.Load() != 1 {
		t.Fatalf("with Redis down: %v, %v, %d exchanges; want a local exchange", cr, err, ex.n.Load())
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("exchange with Redis down took %v", d)
	}
	if c.Stats().SharedErrors == 0 {
		t.Error("SharedErrors not counted")
	}
}
