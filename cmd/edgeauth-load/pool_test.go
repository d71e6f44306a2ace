package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestPoolHandsOutEachTokenOnceThenCountsReuse(t *testing.T) {
	toks := make([]string, 1000)
	for i := range toks {
		toks[i] = fmt.Sprint("t", i)
	}
	p := NewTokenPool(toks)
	var (
		mu     sync.Mutex
		seen   = map[string]int{}
		reused atomic.Int64
		wg     sync.WaitGroup
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 150 { // 1200 takes in all: 200 more than the pool holds
				tok, again := p.Take()
				if again {
					reused.Add(1)
				}
				mu.Lock()
				seen[tok]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	taken, rc := p.Taken()
	if taken != 1200 || rc != 200 || reused.Load() != 200 {
		t.Fatalf("taken %d, reused %d (Take said %d); want 1200, 200, 200", taken, rc, reused.Load())
	}
	if len(seen) != 1000 {
		t.Fatalf("%d distinct tokens handed out, want all 1000", len(seen))
	}
	twice := 0
	for _, n := range seen {
		if n > 2 {
			t.Fatalf("a token was handed out %d times", n)
		}
		if n == 2 {
			twice++
		}
	}
	if twice != 200 || p.Remaining() != 0 {
		t.Fatalf("%d tokens handed out twice, %d remaining; want 200 and 0", twice, p.Remaining())
	}
}

func TestPoolFreshUntilExhausted(t *testing.T) {
	p := NewTokenPool([]string{"a", "b", "c"})
	for i, want := range []string{"a", "b", "c"} {
		tok, again := p.Take()
		if tok != want || again {
			t.Fatalf("take %d: %q reused=%v, want %q fresh", i, tok, again, want)
		}
		if p.Remaining() != int64(2-i) {
			t.Fatalf("after %d takes: %d remaining", i+1, p.Remaining())
		}
	}
	if tok, again := p.Take(); tok != "a" || !again {
		t.Fatalf("fourth take: %q reused=%v, want a reused", tok, again)
	}
	if p.Peek(4) != "b" {
		t.Fatalf("Peek(4) = %q, want b", p.Peek(4))
	}
	if taken, _ := p.Taken(); taken != 4 {
		t.Fatalf("Peek took a token: taken %d", taken)
	}
}

func TestPoolSize(t *testing.T) {
	cases := []struct {
		rate         float64
		measured     time.Duration
		margin       float64
		extra, limit int
		want         int
	}{
		{5000, 8 * time.Second, 0.3, 128, 200000, 52128},
		{5000, 8 * time.Second, 0.3, 128, 10000, 10000}, // capped
		{0, 8 * time.Second, 0.3, 128, 10000, 128},      // calibration saw nothing
		{100.5, time.Second, 0, 0, 1000, 101},           // rounded up
	}
	for _, c := range cases {
		if got := poolSize(c.rate, c.measured, c.margin, c.extra, c.limit); got != c.want {
			t.Errorf("poolSize(%v, %s, %v, %d, %d) = %d, want %d", c.rate, c.measured, c.margin, c.extra, c.limit, got, c.want)
		}
	}
}

func TestMintAll(t *testing.T) {
	var n atomic.Int64
	toks, err := mintAll(context.Background(), 500, 4, func() (string, error) {
		return fmt.Sprint("tok", n.Add(1)), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	distinct := map[string]bool{}
	for _, tok := range toks {
		if tok == "" {
			t.Fatal("a slot was left empty")
		}
		distinct[tok] = true
	}
	if len(toks) != 500 || len(distinct) != 500 || n.Load() != 500 {
		t.Fatalf("%d tokens, %d distinct, %d mint calls; want 500 each", len(toks), len(distinct), n.Load())
	}

	boom := errors.New("boom")
	if _, err := mintAll(context.Background(), 50, 2, func() (string, error) { return "", boom }); !errors.Is(err, boom) {
		t.Fatalf("mint error not returned: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := mintAll(ctx, 50, 2, func() (string, error) { return "x", nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
}
