package main

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// TokenPool hands out pre-minted tokens, each once. When it runs dry it
// starts over and counts every token handed out again as reused, so a
// report can say whether "a new token every request" really held.
type TokenPool struct {
	tokens []string
	next   atomic.Int64
}

// NewTokenPool returns a pool of the given tokens.
func NewTokenPool(tokens []string) *TokenPool { return &TokenPool{tokens: tokens} }

// Take returns the next token and whether it was handed out before.
func (p *TokenPool) Take() (string, bool) {
	n := p.next.Add(1) - 1
	return p.tokens[n%int64(len(p.tokens))], n >= int64(len(p.tokens))
}

// Peek returns the i-th token (modulo the pool size) without taking it; the
// bare-Caddy side, which verifies nothing, reads the pool this way.
func (p *TokenPool) Peek(i int) string { return p.tokens[i%len(p.tokens)] }

// Size returns the number of distinct tokens.
func (p *TokenPool) Size() int { return len(p.tokens) }

// Taken returns how many tokens were handed out and how many of those were
// reused.
func (p *TokenPool) Taken() (taken, reused int64) {
	taken = p.next.Load()
	return taken, max(0, taken-int64(len(p.tokens)))
}

// Remaining returns how many tokens are still fresh.
func (p *TokenPool) Remaining() int64 {
	taken, _ := p.Taken()
	return max(0, int64(len(p.tokens))-taken)
}

// poolSize is how many fresh tokens a run of the given total measured time
// needs at the calibrated rate (requests per second), with margin (e.g.
// 0.3 for 30 % more) and extra tokens on top, capped at limit.
func poolSize(rate float64, measured time.Duration, margin float64, extra, limit int) int {
	n := int(math.Ceil(rate*measured.Seconds()*(1+margin))) + extra
	return min(max(n, extra), limit)
}

// mintAll calls mint n times on workers goroutines and returns the tokens.
func mintAll(ctx context.Context, n, workers int, mint func() (string, error)) ([]string, error) {
	out := make([]string, n)
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	for range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) || ctx.Err() != nil {
					return
				}
				tok, err := mint()
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				out[i] = tok
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, fmt.Errorf("minting tokens: %w", firstErr)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
