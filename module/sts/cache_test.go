package sts

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newClock() *clock { return &clock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)} }

// counter is a fetch that counts calls and returns credentials living ttl.
func counter(clk *clock, ttl time.Duration, n *atomic.Int32) func(context.Context) (*Credentials, error) {
	return func(context.Context) (*Credentials, error) {
		i := n.Add(1)
		return &Credentials{AccessKeyID: fmt.Sprintf("AK%d", i), Expiration: clk.Now().Add(ttl)}, nil
	}
}

func TestCacheSingleFlight(t *testing.T) {
	clk := newClock()
	c := NewCache(CacheConfig{Now: clk.Now})
	var calls atomic.Int32
	release := make(chan struct{})
	fetch := func(ctx context.Context) (*Credentials, error) {
		calls.Add(1)
		<-release
		return &Credentials{AccessKeyID: "AK", Expiration: clk.Now().Add(time.Hour)}, nil
	}
	var wg sync.WaitGroup
	results := make(chan string, 100)
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cr, err := c.Get(context.Background(), "k", time.Time{}, fetch)
			if err != nil {
				results <- "error: " + err.Error()
				return
			}
			results <- cr.AccessKeyID
		}()
	}
	time.Sleep(50 * time.Millisecond) // let the callers pile up behind the fetch
	close(release)
	wg.Wait()
	close(results)
	for r := range results {
		if r != "AK" {
			t.Fatalf("a caller got %q", r)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d fetches for 100 concurrent callers, want 1", n)
	}
	st := c.Stats()
	if st.Exchanges != 1 || st.Hits+st.Misses != 100 {
		t.Errorf("stats %+v", st)
	}
}

func TestCacheRefreshMargin(t *testing.T) {
	clk := newClock()
	c := NewCache(CacheConfig{Now: clk.Now}) // margin 3m
	var n atomic.Int32
	fetch := counter(clk, time.Hour, &n)
	get := func() string {
		cr, err := c.Get(context.Background(), "k", time.Time{}, fetch)
		if err != nil {
			t.Fatal(err)
		}
		return cr.AccessKeyID
	}
	if get() != "AK1" {
		t.Fatal("first fetch")
	}
	clk.Add(56*time.Minute + 59*time.Second) // 3m01s before expiry
	if got := get(); got != "AK1" {
		t.Errorf("refreshed %v early: %s", 3*time.Minute+time.Second, got)
	}
	clk.Add(time.Second) // exactly at the margin
	if got := get(); got != "AK2" {
		t.Errorf("not refreshed at the margin: %s", got)
	}
	if st := c.Stats(); st.Hits != 1 || st.Misses != 2 || st.Exchanges != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestCacheSourceExpiryCap(t *testing.T) {
	clk := newClock()
	c := NewCache(CacheConfig{Now: clk.Now})
	var n atomic.Int32
	fetch := counter(clk, time.Hour, &n)
	src := clk.Now().Add(10 * time.Minute) // the caller's token ends first
	if cr, _ := c.Get(context.Background(), "k", src, fetch); cr.AccessKeyID != "AK1" {
		t.Fatal("first fetch")
	}
	clk.Add(9 * time.Minute)
	if cr, _ := c.Get(context.Background(), "k", src, fetch); cr.AccessKeyID != "AK1" {
		t.Error("refetched before the token expired")
	}
	clk.Add(time.Minute)
	newSrc := clk.Now().Add(time.Hour)
	if cr, _ := c.Get(context.Background(), "k", newSrc, fetch); cr.AccessKeyID != "AK2" {
		t.Error("credentials outlived the token they came from")
	}
}

func TestCacheMaxEntries(t *testing.T) {
	clk := newClock()
	c := NewCache(CacheConfig{MaxEntries: 10, Now: clk.Now})
	mk := func(ttl time.Duration) func(context.Context) (*Credentials, error) {
		return func(context.Context) (*Credentials, error) {
			return &Credentials{Expiration: clk.Now().Add(ttl)}, nil
		}
	}
	// k0 lives shortest; the others live longer and longer.
	for i := range 10 {
		if _, err := c.Get(context.Background(), fmt.Sprintf("k%d", i), time.Time{}, mk(time.Duration(10+i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if c.Len() != 10 {
		t.Fatalf("Len %d", c.Len())
	}
	if _, err := c.Get(context.Background(), "new", time.Time{}, mk(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if c.Len() > 10 {
		t.Fatalf("Len %d over the cap", c.Len())
	}
	var n atomic.Int32
	probe := func(key string) bool { // true when key was still cached
		before := n.Load()
		_, _ = c.Get(context.Background(), key, time.Time{}, func(context.Context) (*Credentials, error) {
			n.Add(1)
			return &Credentials{Expiration: clk.Now().Add(time.Hour)}, nil
		})
		return n.Load() == before
	}
	if !probe("k9") || !probe("new") {
		t.Error("a long-lived entry was evicted")
	}
	if probe("k0") {
		t.Error("the entry closest to expiry was kept")
	}
	// Every expired entry goes first, not just one.
	c2 := NewCache(CacheConfig{MaxEntries: 3, Now: clk.Now})
	_, _ = c2.Get(context.Background(), "short1", time.Time{}, mk(4*time.Minute))
	_, _ = c2.Get(context.Background(), "short2", time.Time{}, mk(4*time.Minute))
	_, _ = c2.Get(context.Background(), "long1", time.Time{}, mk(time.Hour))
	clk.Add(2 * time.Minute) // both short ones are now due for refresh
	_, _ = c2.Get(context.Background(), "long2", time.Time{}, mk(3*time.Hour))
	if c2.Len() != 2 {
		t.Errorf("Len %d, want 2 (both expired entries evicted, long1 and long2 kept)", c2.Len())
	}
	c2.Flush()
	if c2.Len() != 0 {
		t.Error("Flush left entries")
	}
}

func TestCacheErrorsNotCached(t *testing.T) {
	clk := newClock()
	c := NewCache(CacheConfig{Now: clk.Now})
	var n atomic.Int32
	fail := func(kind ErrorKind) func(context.Context) (*Credentials, error) {
		return func(context.Context) (*Credentials, error) {
			n.Add(1)
			return nil, &Error{Kind: kind, Code: "X"}
		}
	}
	for range 3 {
		if _, err := c.Get(context.Background(), "k", time.Time{}, fail(InvalidToken)); err == nil {
			t.Fatal("no error")
		}
	}
	if n.Load() != 3 {
		t.Errorf("InvalidToken fetched %d times for 3 calls: errors were cached", n.Load())
	}
	// Unavailable is remembered for NegativeTTL (1s) only.
	n.Store(0)
	for range 3 {
		_, err := c.Get(context.Background(), "u", time.Time{}, fail(Unavailable))
		if e := asError(t, err); e.Kind != Unavailable {
			t.Fatalf("got %v", err)
		}
	}
	if n.Load() != 1 || c.Stats().NegativeHits != 2 {
		t.Errorf("Unavailable fetched %d times, negative hits %d", n.Load(), c.Stats().NegativeHits)
	}
	clk.Add(time.Second)
	var ok atomic.Int32
	if cr, err := c.Get(context.Background(), "u", time.Time{}, counter(clk, time.Hour, &ok)); err != nil || cr == nil {
		t.Errorf("after the negative TTL: %v", err)
	}
	// Disabled negative cache.
	c3 := NewCache(CacheConfig{Now: clk.Now, NegativeTTL: -1})
	n.Store(0)
	for range 2 {
		_, _ = c3.Get(context.Background(), "u", time.Time{}, fail(Unavailable))
	}
	if n.Load() != 2 {
		t.Errorf("NegativeTTL<0 still cached: %d fetches", n.Load())
	}
}

func TestCacheWaiterCancelDoesNotCancelFetch(t *testing.T) {
	c := NewCache(CacheConfig{})
	started := make(chan struct{})
	release := make(chan struct{})
	var fetchErr atomic.Value
	fetch := func(ctx context.Context) (*Credentials, error) {
		close(started)
		select {
		case <-release:
		case <-ctx.Done():
			fetchErr.Store(ctx.Err())
			return nil, ctx.Err()
		}
		return &Credentials{AccessKeyID: "AK", Expiration: time.Now().Add(time.Hour)}, nil
	}
	ctx1, cancel1 := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := c.Get(ctx1, "k", time.Time{}, fetch)
		first <- err
	}()
	<-started
	second := make(chan *Credentials, 1)
	go func() {
		cr, _ := c.Get(context.Background(), "k", time.Time{}, fetch)
		second <- cr
	}()
	cancel1()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter got %v", err)
	}
	time.Sleep(20 * time.Millisecond)
	close(release)
	cr := <-second
	if cr == nil || cr.AccessKeyID != "AK" {
		t.Fatalf("the other waiter got %v; fetch ctx error %v", cr, fetchErr.Load())
	}
	if c.Stats().Exchanges != 1 || c.Len() != 1 {
		t.Errorf("stats %+v len %d", c.Stats(), c.Len())
	}
}

func TestKey(t *testing.T) {
	a := Key("role", "sub-1")
	if len(a) != 64 || a != Key("role", "sub-1") {
		t.Fatalf("Key not a stable SHA-256 hex: %q", a)
	}
	if Key("ab", "c") == Key("a", "bc") || Key("role", "sub-1") == Key("role", "sub-2") {
		t.Error("different parts give the same key")
	}
}

func BenchmarkCacheHit(b *testing.B) {
	c := NewCache(CacheConfig{})
	key := Key("acs:ram::1:role/r", "acs:ram::1:oidc-provider/p", "https://idp", "user-1")
	fetch := func(context.Context) (*Credentials, error) {
		return &Credentials{AccessKeyID: "AK", Expiration: time.Now().Add(time.Hour)}, nil
	}
	ctx := context.Background()
	if _, err := c.Get(ctx, key, time.Time{}, fetch); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Get(ctx, key, time.Time{}, fetch); err != nil {
				b.Fatal(err)
			}
		}
	})
}
