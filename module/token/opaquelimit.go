package token

import (
	"math"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// Limits on what an opaque bearer token may look like before a provider is
// asked about it. A token that fails them is refused without a call.
const (
	// minOpaqueLen: RFC 6749 §10.10 wants access tokens guessable with a
	// chance of at most 2^-128, which no string under 22 base64 characters
	// can carry; 16 leaves room for denser alphabets and still stops trivial
	// junk.
	minOpaqueLen = 16
	// maxOpaqueLen is well above real opaque tokens and JWEs (Google
	// documents up to 2048 bytes) and below the 20000 bytes of a JWT.
	maxOpaqueLen = 8192
)

// opaqueShaped reports whether raw can be an RFC 6750 bearer token
// (b64token: letters, digits, "-._~+/", then only "=" padding) of a
// plausible length. Anything else — spaces, quotes, control or non-ASCII
// bytes — cannot have been issued by a provider.
func opaqueShaped(raw string) bool {
	if len(raw) < minOpaqueLen || len(raw) > maxOpaqueLen {
		return false
	}
	padding := false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '=':
			padding = true
		case padding:
			return false
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == '+', c == '/':
		default:
			return false
		}
	}
	return raw[0] != '='
}

// opaqueGate is one provider's shared state for opaque-token checks: the
// bucket that bounds calls, the calls in flight and the tokens it refused
// lately. It belongs to the provider (not to a route), so every route that
// sends opaque tokens to the provider draws on one budget; all its keys are
// tokens of this provider in this provider's mode (OpaqueChecker).
type opaqueGate struct {
	bucket   *tokenBucket
	flight   singleflight.Group
	rejected rejectedTokens
}

func newOpaqueGate(rate float64, burst int) *opaqueGate {
	return &opaqueGate{bucket: newTokenBucket(rate, burst, time.Now)}
}

// tokenBucket allows burst calls at once and rate calls per second on
// average.
type tokenBucket struct {
	mu     sync.Mutex
	rate   float64 // tokens per second
	burst  float64
	tokens float64
	last   time.Time
	now    func() time.Time
}

func newTokenBucket(rate float64, burst int, now func() time.Time) *tokenBucket {
	return &tokenBucket{rate: rate, burst: float64(burst), tokens: float64(burst), last: now(), now: now}
}

// take spends one token. When none is left it reports false and how long
// until one is (at least a second, in whole seconds, for Retry-After).
func (b *tokenBucket) take() (time.Duration, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = math.Min(b.burst, b.tokens+elapsed*b.rate)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	wait := math.Ceil((1 - b.tokens) / b.rate)
	return time.Duration(math.Max(wait, 1)) * time.Second, false
}

// rejectedTokens remembers, for a short while, opaque tokens the provider
// refused, so that replaying a bad token does not cost a provider call each
// time. Only a provider's (or the answer check's) refusal puts a token here,
// so the bucket bounds how fast it fills; when full it drops expired
// entries, and forgets everything only if that is not enough — which costs
// calls (still bounded by the bucket), never a wrong answer.
type rejectedTokens struct {
	mu      sync.Mutex
	entries map[[32]byte]time.Time
}

const (
	rejectedTTL = 30 * time.Second
	rejectedMax = 10000
)

func (rt *rejectedTokens) has(key [32]byte) bool {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	until, ok := rt.entries[key]
	if ok && time.Now().After(until) {
		delete(rt.entries, key)
		return false
	}
	return ok
}

func (rt *rejectedTokens) add(key [32]byte) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	now := time.Now()
	if len(rt.entries) >= rejectedMax {
		for k, until := range rt.entries {
			if now.After(until) {
				delete(rt.entries, k)
			}
		}
	}
	if rt.entries == nil || len(rt.entries) >= rejectedMax {
		rt.entries = make(map[[32]byte]time.Time)
	}
	rt.entries[key] = now.Add(rejectedTTL)
}
