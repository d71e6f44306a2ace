package sts

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// memShared is an in-process SharedStore standing in for Redis.
type memShared struct {
	mu     sync.Mutex
	creds  map[string]*Credentials
	until  map[string]time.Time
	locks  map[string]bool
	getErr error
}

func newMemShared() *memShared {
	return &memShared{creds: map[string]*Credentials{}, until: map[string]time.Time{}, locks: map[string]bool{}}
}

func (m *memShared) Get(_ context.Context, key string) (*Credentials, time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.getErr != nil {
		return nil, time.Time{}, m.getErr
	}
	return m.creds[key], m.until[key], nil
}

func (m *memShared) Set(_ context.Context, key string, cr *Credentials, until time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.creds[key], m.until[key] = cr, until
	return nil
}

func (m *memShared) TryLock(_ context.Context, key string, _ time.Duration) (func(), bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.locks[key] {
		return nil, false, nil
	}
	m.locks[key] = true
	return func() { m.mu.Lock(); delete(m.locks, key); m.mu.Unlock() }, true, nil
}

func TestCacheSharedOneExchangeAcrossCaches(t *testing.T) {
	sh := newMemShared()
	a := NewCache(CacheConfig{Shared: sh, SharedPoll: 5 * time.Millisecond})
	b := NewCache(CacheConfig{Shared: sh, SharedPoll: 5 * time.Millisecond})
	var n atomic.Int32
	fetch := func(context.Context) (*Credentials, error) {
		n.Add(1)
		time.Sleep(50 * time.Millisecond)
		return &Credentials{AccessKeyID: "STS.A", Expiration: time.Now().Add(time.Hour)}, nil
	}
	var wg sync.WaitGroup
	for i := range 20 {
		c := a
		if i%2 == 1 {
			c = b
		}
		wg.Go(func() {
			if cr, err := c.Get(context.Background(), "k", time.Time{}, fetch); err != nil || cr.AccessKeyID != "STS.A" {
				t.Errorf("Get: %v %v", cr, err)
			}
		})
	}
	wg.Wait()
	if n.Load() != 1 || a.Stats().Exchanges+b.Stats().Exchanges != 1 || a.Stats().SharedHits+b.Stats().SharedHits == 0 {
		t.Fatalf("%d exchanges; stats a %+v b %+v", n.Load(), a.Stats(), b.Stats())
	}
	if d := time.Until(sh.until["k"]); d > 57*time.Minute || d < 56*time.Minute {
		t.Errorf("shared validUntil in %v, want Expiration − 3m", d)
	}
}

func TestCacheSharedFailuresAndWaiting(t *testing.T) {
	fetch := func(context.Context) (*Credentials, error) {
		return &Credentials{AccessKeyID: "STS.L", Expiration: time.Now().Add(time.Hour)}, nil
	}
	// A failing shared store: exchange locally.
	sh := newMemShared()
	sh.getErr = errors.New("redis down")
	c := NewCache(CacheConfig{Shared: sh})
	if cr, err := c.Get(context.Background(), "k", time.Time{}, fetch); err != nil || cr.AccessKeyID != "STS.L" || c.Stats().SharedErrors == 0 {
		t.Fatalf("shared store down: %v %v %+v", cr, err, c.Stats())
	}
	// Another instance holds the lock and never publishes: give up at
	// FetchTimeout with an Unavailable error, without exchanging.
	sh = newMemShared()
	sh.locks["k"] = true
	c = NewCache(CacheConfig{Shared: sh, FetchTimeout: 100 * time.Millisecond})
	_, err := c.Get(context.Background(), "k", time.Time{}, func(context.Context) (*Credentials, error) {
		t.Error("exchanged while another instance holds the lock")
		return nil, errors.New("unexpected")
	})
	var se *Error
	if !errors.As(err, &se) || se.Kind != Unavailable || se.Code != CodeTimeout {
		t.Fatalf("waiting on a held lock: %v", err)
	}
	// Shared credentials past the caller's token expiry are not used.
	sh = newMemShared()
	_ = sh.Set(context.Background(), "k", &Credentials{AccessKeyID: "STS.OLD", Expiration: time.Now().Add(time.Hour)}, time.Now().Add(30*time.Minute))
	c = NewCache(CacheConfig{Shared: sh})
	if cr, _ := c.Get(context.Background(), "k", time.Now().Add(time.Hour), fetch); cr.AccessKeyID != "STS.OLD" {
		t.Errorf("usable shared credentials not used: %s", cr.AccessKeyID)
	}
	c = NewCache(CacheConfig{Shared: sh, Now: func() time.Time { return time.Now().Add(31 * time.Minute) }})
	if cr, _ := c.Get(context.Background(), "k", time.Time{}, fetch); cr.AccessKeyID != "STS.L" {
		t.Errorf("shared credentials past validUntil used: %s", cr.AccessKeyID)
	}
}
