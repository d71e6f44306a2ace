package assertsign

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"
)

// ErrUnavailable means no key can sign now: the key set could not be read,
// generated or stored. The request fails closed (503).
var ErrUnavailable = errors.New("the assertion signing key is not available")

// retryAfter is how long a caller is told to wait after ErrUnavailable, and
// how long a failed storage access is not retried by the request path.
const retryAfter = 5 * time.Second

// storageTimeout bounds one load or generation under the storage lock.
const storageTimeout = 30 * time.Second

// Signer signs assertions and publishes their keys. Build it with New; it
// is safe for concurrent use.
type Signer struct {
	cfg      Config
	sched    schedule
	refresh  time.Duration // how often storage is re-read
	store    certmagic.Storage
	key      string // the key set's storage key
	lock     string // its lock name
	logger   *zap.Logger
	onSign   func()
	now      func() time.Time
	cache    *cache
	flight   singleflight.Group
	ring     atomic.Pointer[ring]
	loadMu   sync.Mutex     // one load from storage at a time
	loading  atomic.Bool    // a background load is under way
	bg       sync.WaitGroup // Run and background loads, for Wait
	failedAt atomic.Int64   // unix nanoseconds of the last failed load
}

// Options are the run-time parts of a Signer.
type Options struct {
	// Storage keeps generated keys (Caddy's configured storage). Required
	// without a key file.
	Storage certmagic.Storage
	// Logger receives key generation, rotation and storage errors.
	Logger *zap.Logger
	// OnSign is called once per signature (the signatures metric).
	OnSign func()
	// CacheEntries bounds the assertion cache (default DefaultCacheEntries).
	CacheEntries int
	// Now is the clock (default time.Now); tests set it.
	Now func() time.Time
}

// New checks cfg (with defaults applied) and builds a Signer. With a key
// file, the key is read and checked against the algorithm here.
func New(cfg Config, opts Options) (*Signer, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Signer{
		cfg:    cfg,
		store:  opts.Storage,
		logger: opts.Logger,
		onSign: opts.OnSign,
		now:    opts.Now,
		cache:  newCache(opts.CacheEntries),
	}
	if s.logger == nil {
		s.logger = zap.NewNop()
	}
	if s.onSign == nil {
		s.onSign = func() {}
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.refresh = min(max(cfg.Lifetime/2, 5*time.Second), time.Minute)
	s.sched = schedule{lifetime: cfg.Lifetime, rotate: cfg.Rotate, lead: min(s.refresh, cfg.Rotate/2), grace: s.refresh + time.Minute}
	if cfg.KeyFile != "" {
		k, err := loadKeyFile(cfg.KeyFile, cfg.Algorithm)
		if err != nil {
			return nil, fmt.Errorf("assertion key_file %s: %v", cfg.KeyFile, err)
		}
		s.ring.Store(fixedRing(k))
		return s, nil
	}
	if s.store == nil {
		return nil, errors.New("assertion: no storage to keep generated keys in; set key_file or configure Caddy's storage")
	}
	sum := sha256.Sum256([]byte(cfg.Issuer))
	id := strings.ToLower(cfg.Algorithm) + "-" + hex.EncodeToString(sum[:8])
	s.key = "edgeauth/assertion/" + id + ".json"
	s.lock = "edgeauth_assertion_" + id
	return s, nil
}

// loadKeyFile reads and checks an operator's PEM key.
func loadKeyFile(path, alg string) (*signingKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	priv, err := parsePrivatePEM(data)
	if err != nil {
		return nil, err
	}
	if err := checkKeyFor(alg, priv); err != nil {
		return nil, err
	}
	return newSigningKey(alg, priv, time.Time{})
}

// Config returns the configuration in use (defaults applied).
func (s *Signer) Config() Config { return s.cfg }

// Run re-reads the key set from storage every refresh interval until ctx
// ends, so that a key generated or rotated by another instance sharing the
// storage is published and used here too, and rotates when due. It does
// nothing with a key file.
func (s *Signer) Run(ctx context.Context) {
	if s.cfg.KeyFile != "" {
		return
	}
	t := time.NewTicker(s.refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if s.ring.Load() != nil { // generation stays on first use
				_ = s.load(ctx)
			}
		}
	}
}

// Start runs Run in a goroutine that Wait waits for.
func (s *Signer) Start(ctx context.Context) {
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		s.Run(ctx)
	}()
}

// Wait returns once a Run started by Start has returned and no background re-read is under
// way: after the config's context is done, the signer no longer touches
// its storage (App.Cleanup calls it).
func (s *Signer) Wait() { s.bg.Wait() }

// Assertion returns a compact JWS for c: a cached one while less than half
// its lifetime has passed, else a new signature. Concurrent requests for
// one claim set share one signature.
func (s *Signer) Assertion(ctx context.Context, c Claims) (string, error) {
	now := s.now()
	if jws, ok := s.cache.get(c, now); ok {
		return jws, nil
	}
	v, err, _ := s.flight.Do(flightKey(c), func() (any, error) {
		now := s.now()
		if jws, ok := s.cache.get(c, now); ok {
			return jws, nil
		}
		r, err := s.current(ctx)
		if err != nil {
			return "", err
		}
		jws, err := s.sign(r.signing, c, now)
		if err != nil {
			s.logger.Error("signing an assertion failed", zap.String("kid", r.signing.kid), zap.Error(err))
			return "", ErrUnavailable
		}
		s.cache.put(c, cached{jws: jws, kid: r.signing.kid, renewAt: now.Add(s.cfg.Lifetime / 2)}, now)
		return jws, nil
	})
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

// sign signs one assertion with k.
func (s *Signer) sign(k *signingKey, c Claims, now time.Time) (string, error) {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", err
	}
	p := newPayload(c, s.cfg.Issuer, base64.RawURLEncoding.EncodeToString(id[:]), now, now.Add(s.cfg.Lifetime))
	tok := jwt.NewWithClaims(k.method, p)
	tok.Header["kid"] = k.kid
	jws, err := tok.SignedString(k.private)
	if err == nil {
		s.onSign()
	}
	return jws, err
}

// current returns the key view, loading (or generating) the key set on
// first use and starting a background re-read once the view is stale.
func (s *Signer) current(ctx context.Context) (*ring, error) {
	if r := s.ring.Load(); r != nil {
		// A stale view starts one background re-read, and after a failed one
		// not before retryAfter, so an unreachable storage is not hammered.
		if now := s.now(); !r.staleAt.IsZero() && !now.Before(r.staleAt) && !s.recentlyFailed(now) && s.loading.CompareAndSwap(false, true) {
			s.bg.Add(1)
			go func() {
				defer s.bg.Done()
				defer s.loading.Store(false)
				ctx, cancel := context.WithTimeout(context.Background(), storageTimeout)
				defer cancel()
				_ = s.load(ctx)
			}()
		}
		return r, nil
	}
	if s.recentlyFailed(s.now()) {
		return nil, ErrUnavailable
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storageTimeout)
	defer cancel()
	if err := s.load(ctx); err != nil {
		return nil, ErrUnavailable
	}
	return s.ring.Load(), nil
}

// recentlyFailed reports whether a load failed less than retryAfter ago.
func (s *Signer) recentlyFailed(now time.Time) bool {
	t := s.failedAt.Load()
	return t != 0 && now.Sub(time.Unix(0, t)) < retryAfter
}

// load reads the key set from storage and adopts it; when there is none,
// or a rotation is due, it generates a key under the storage's lock,
// re-reading the set after taking the lock so that instances racing to
// generate end with one key set.
func (s *Signer) load(ctx context.Context) error {
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	err := s.loadLocked(ctx)
	if err != nil {
		s.failedAt.Store(s.now().UnixNano())
		s.logger.Error("assertion keys unavailable; routes with `assertion` answer 503 until they load (a key set damaged or altered in storage is never used: restore it, or delete it to generate a new one)",
			zap.String("storage_key", s.key), zap.Error(err))
		return err
	}
	s.failedAt.Store(0)
	return nil
}

func (s *Signer) loadLocked(ctx context.Context) error {
	keys, err := s.read(ctx)
	if err != nil {
		return err
	}
	if keys != nil && !s.sched.rotationDue(keys, s.now()) {
		s.adopt(keys)
		return nil
	}
	if err := s.store.Lock(ctx, s.lock); err != nil {
		return fmt.Errorf("taking the storage lock %s: %v", s.lock, err)
	}
	defer func() {
		if err := s.store.Unlock(context.WithoutCancel(ctx), s.lock); err != nil {
			s.logger.Warn("releasing the assertion key lock", zap.String("lock", s.lock), zap.Error(err))
		}
	}()
	if keys, err = s.read(ctx); err != nil {
		return err
	}
	now := s.now()
	if keys == nil || s.sched.rotationDue(keys, now) {
		priv, err := generate(s.cfg.Algorithm)
		if err != nil {
			return fmt.Errorf("generating a key: %v", err)
		}
		fresh, err := newSigningKey(s.cfg.Algorithm, priv, now)
		if err != nil {
			return err
		}
		next := s.sched.withFresh(keys, fresh, now)
		data, err := encodeSet(next, s.cfg.Issuer, s.cfg.Algorithm)
		if err != nil {
			return err
		}
		if err := s.store.Store(ctx, s.key, data); err != nil {
			return fmt.Errorf("storing the key set: %v", err)
		}
		verb := "generated"
		if keys != nil {
			verb = "rotated"
		}
		s.logger.Info("assertion signing key "+verb,
			zap.String("kid", fresh.kid), zap.String("algorithm", s.cfg.Algorithm),
			zap.Time("signs_from", next[len(next)-1].notBefore), zap.String("storage_key", s.key))
		keys = next
	}
	s.adopt(keys)
	return nil
}

// read loads and checks the stored key set; nil, nil when there is none.
func (s *Signer) read(ctx context.Context) ([]timedKey, error) {
	data, err := s.store.Load(ctx, s.key)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the key set: %v", err)
	}
	keys, err := decodeSet(data, s.cfg.Issuer, s.cfg.Algorithm, s.now())
	if err != nil {
		return nil, fmt.Errorf("the stored key set is not valid: %v", err)
	}
	return keys, nil
}

// adopt makes keys the current view, dropping cached assertions whose key
// is no longer published.
func (s *Signer) adopt(keys []timedKey) {
	r := newRing(keys, s.sched, s.now())
	old := s.ring.Swap(r)
	if old == nil {
		return
	}
	for _, k := range old.published {
		if !r.hasKid(k.kid) {
			s.cache.dropKids(r.hasKid)
			return
		}
	}
}

// flightKey is an unambiguous string form of c, for singleflight.
func flightKey(c Claims) string {
	fields := [...]string{c.Audience, c.Subject, c.IdP, c.Provider, c.Scope, c.AccountID, c.UserID,
		c.UserType, c.LoginName, c.UPN, c.Name, c.Email, c.ClientID, c.RoleARN, c.CnfMember, c.CnfThumbprint}
	var b strings.Builder
	for _, f := range fields {
		b.WriteString(strconv.Itoa(len(f)))
		b.WriteByte(':')
		b.WriteString(f)
	}
	return b.String()
}

// KeyInfo describes one published key for the admin API.
type KeyInfo struct {
	Kid        string  `json:"kid"`
	Algorithm  string  `json:"alg"`
	Signing    bool    `json:"signing"`
	AgeSeconds float64 `json:"age_seconds,omitempty"` // since generation; absent for a key_file key
	Source     string  `json:"source"`                // "storage" or "key_file"
}

// Keys lists the published keys, newest first. Before first use (no key
// loaded yet) the list is empty.
func (s *Signer) Keys() []KeyInfo {
	r := s.ring.Load()
	if r == nil {
		return []KeyInfo{}
	}
	now := s.now()
	out := make([]KeyInfo, len(r.published))
	for i, k := range r.published {
		out[i] = KeyInfo{Kid: k.kid, Algorithm: k.alg, Signing: k == r.signing, Source: "storage"}
		if k.created.IsZero() {
			out[i].Source = "key_file"
		} else {
			out[i].AgeSeconds = now.Sub(k.created).Seconds()
		}
	}
	return out
}

// CacheLen is the number of cached assertions.
func (s *Signer) CacheLen() int { return s.cache.len() }
