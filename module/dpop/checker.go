package dpop

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/token"
)

// DefaultMaxAge is how long after its iat a proof is accepted.
const DefaultMaxAge = 60 * time.Second

// Config sets up a Checker.
type Config struct {
	// Algorithms the proof may be signed with (default SupportedAlgorithms).
	// ValidateAlgorithms checks a configured list.
	Algorithms []string
	// MaxAge is how old a proof's iat may be (default DefaultMaxAge).
	MaxAge time.Duration
	// ClockSkew is tolerated on iat both ways.
	ClockSkew time.Duration
	// MaxSize bounds a proof in bytes (default DefaultMaxProofSize).
	MaxSize int
	// Replay remembers proofs that passed. Required.
	Replay ReplayStore
	// Nonces, when set, requires each proof to carry a current server nonce.
	Nonces *Nonces
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// ValidateAlgorithms checks a dpop_algorithms list: every name must be one
// of SupportedAlgorithms (`none` and HMAC are refused).
func ValidateAlgorithms(algs []string) error {
	for _, a := range algs {
		if !slices.Contains(SupportedAlgorithms, a) {
			return fmt.Errorf("dpop_algorithms: %q is not an asymmetric algorithm a proof may use; use some of %s (names are case-sensitive)", a, strings.Join(SupportedAlgorithms, " "))
		}
	}
	return nil
}

// Checker checks proofs for one provider's tokens. It is safe for
// concurrent use.
type Checker struct {
	cfg     Config
	allowed map[string]bool
	algs    string // for the challenge: algs="…"
	headers *headerCache
}

// NewChecker applies defaults and returns a checker.
func NewChecker(cfg Config) (*Checker, error) {
	if cfg.Replay == nil {
		return nil, errors.New("dpop: a replay store is required")
	}
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = SupportedAlgorithms
	}
	if err := ValidateAlgorithms(cfg.Algorithms); err != nil {
		return nil, err
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = DefaultMaxProofSize
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Checker{cfg: cfg, allowed: make(map[string]bool), algs: strings.Join(cfg.Algorithms, " "), headers: newHeaderCache(headerCacheEntries)}
	for _, a := range cfg.Algorithms {
		c.allowed[a] = true
	}
	return c, nil
}

// Algorithms is the space-separated list for the challenge's algs="…".
func (c *Checker) Algorithms() string { return c.algs }

// Nonces returns the server nonces (nil when not required).
func (c *Checker) Nonces() *Nonces { return c.cfg.Nonces }

// Request is what a proof is checked against.
type Request struct {
	// Method is the request method, compared exactly with htm.
	Method string
	// URL is the request URL in NormalizeHTU's form (scheme://host/path).
	URL string
	// AccessToken is the token presented with the proof (for ath).
	AccessToken string
	// TokenSHA256, when not nil, is SHA-256(AccessToken), which the caller
	// has computed already (the token cache's key); ath is then checked
	// against it instead of hashing the token again. It must be the hash
	// of AccessToken.
	TokenSHA256 *[sha256.Size]byte
	// JKT is the token's cnf.jkt, compared exactly with the proof key's
	// thumbprint.
	JKT string
}

// Result is a proof that passed.
type Result struct {
	// JKT is the proof key's thumbprint.
	JKT string
	// NextNonce, when set, is a newer server nonce for the DPoP-Nonce
	// response header.
	NextNonce string
}

// Check verifies raw (the DPoP header's value) against req: shape and
// header (parse), algorithm, htm, htu, iat, ath, signature, the token's
// jkt, the server nonce, and last the replay store, so that only a proof
// that passed everything else uses up its jti.
func (c *Checker) Check(ctx context.Context, raw string, req Request) (Result, *Error) {
	p, e := parse(raw, c.cfg.MaxSize, c.headers)
	if e != nil {
		return Result{}, e
	}
	if !c.allowed[p.Alg] {
		return Result{}, invalid("algorithm", "DPoP proof algorithm not allowed")
	}
	if p.HTM != req.Method {
		return Result{}, invalid("wrong_method", "DPoP proof is for another method (htm)")
	}
	htu, err := NormalizeHTU(p.HTU)
	if err != nil || htu != req.URL {
		return Result{}, invalid("wrong_url", "DPoP proof is for another URL (htu)")
	}
	now := c.cfg.Now()
	if p.IAT.After(now.Add(c.cfg.ClockSkew)) {
		return Result{}, invalid("future", "DPoP proof issued in the future (iat)")
	}
	expires := p.IAT.Add(c.cfg.MaxAge + c.cfg.ClockSkew)
	if !now.Before(expires) {
		return Result{}, invalid("stale", "DPoP proof too old (iat)")
	}
	if p.ATH == "" {
		return Result{}, invalid("wrong_token", "DPoP proof has no ath")
	}
	if !athMatches(p.ATH, req) {
		return Result{}, invalid("wrong_token", "DPoP proof is for another access token (ath)")
	}
	method, _ := token.SigningMethod(p.Alg) // checked by the parser
	if method.Verify(p.signingInput, p.sig, p.Key) != nil {
		return Result{}, invalid("bad_signature", "DPoP proof signature is invalid")
	}
	jkt := p.jkt
	if jkt == "" {
		jkt = Thumbprint(p.Key)
	}
	if jkt == "" || jkt != req.JKT {
		return Result{}, invalid("wrong_key", "DPoP proof key is not the key the token is bound to (cnf.jkt)")
	}
	var res Result
	res.JKT = jkt
	if n := c.cfg.Nonces; n != nil {
		ok, fresh := false, false
		if p.Nonce != "" {
			ok, fresh = n.Check(p.Nonce)
		}
		if !ok {
			return Result{}, &Error{Code: CodeUseNonce, Detail: "nonce", Description: "DPoP proof must carry the server's current nonce (DPoP-Nonce)"}
		}
		if !fresh {
			res.NextNonce = n.Current()
		}
	}
	fresh, err := c.cfg.Replay.Claim(ctx, replayKey(jkt, p.JTI), expires)
	switch {
	case err != nil:
		return Result{}, &Error{Code: CodeInvalidProof, Detail: "store_unavailable", Description: "the DPoP replay check is unavailable", Unavailable: true, RetryAfter: time.Second}
	case !fresh:
		return Result{}, invalid("replayed", "DPoP proof was used before (jti)")
	}
	return res, nil
}

// athLen is the length of base64url(SHA-256(…)) without padding.
const athLen = 43

// athMatches reports whether ath is base64url(SHA-256(req.AccessToken)), the
// two compared as strings exactly as before, without building either on the
// heap.
func athMatches(ath string, req Request) bool {
	if len(ath) != athLen {
		return false
	}
	var sum [sha256.Size]byte
	if req.TokenSHA256 != nil {
		sum = *req.TokenSHA256
	} else {
		sum = sha256.Sum256([]byte(req.AccessToken))
	}
	var want [athLen]byte
	base64.RawURLEncoding.Encode(want[:], sum[:])
	return string(want[:]) == ath
}

// replayKey scopes a jti to the key that signed it.
func replayKey(jkt, jti string) ReplayKey {
	// SHA-256(jkt ‖ 0 ‖ jti), assembled on the stack for the usual sizes
	// (a thumbprint is 43 bytes, a jti at most maxJTILen).
	var buf [384]byte
	in := append(append(append(buf[:0], jkt...), 0), jti...)
	sum := sha256.Sum256(in)
	var k ReplayKey
	copy(k[:], sum[:])
	return k
}
