package fleet

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/edgeauth/caddy-edgeauth/module/session"
)

// KeyStore is a certmagic.Storage in Redis, for state that every instance
// of a fleet must share but that Caddy's own storage (a local folder by
// default) would keep per instance: the assertion signing keys. Each
// storage key is one Redis hash, <prefix>assertion:<key>, holding the
// value and its modification time; Lock is a lock key with an expiry and a
// holder token (see Lock). Every command touches one key, so it works on
// Redis Cluster. Values may be private keys: nothing here logs them, and
// go-redis errors never hold them.
//
// Values are sealed with the session Sealer (XChaCha20-Poly1305, the
// first secret seals), bound to their Redis key, so a Redis dump, replica
// or backup holds no usable key and a value moved to another key does not
// open. Load opens with any configured secret and re-seals a value that
// opened only with an older one, with a compare-and-set, so the older
// secret can be dropped once every key has been loaded; a value that opens
// with none is an error wrapping ErrKeyNotOpened.
//
// Store is a plain (unconditional) HSET: callers that read, decide and
// write serialise that under Lock and re-read after taking it, as
// certmagic's Locker contract asks. (The re-seal is the one conditional
// write.) While Redis is unreachable every
// method answers an error wrapping ErrUnavailable (Exists answers false).
type KeyStore struct {
	c      *Client
	sealer *session.Sealer
	log    *zap.Logger
	ttl    time.Duration
	poll   time.Duration

	// beforeReseal, when set (tests), runs between opening a value that
	// needs a re-seal and writing the re-sealed one.
	beforeReseal func()

	mu   sync.Mutex
	held map[string]*heldLock
}

// KeyStoreConfig configures a KeyStore. Sealer is required; the rest
// defaults.
type KeyStoreConfig struct {
	// Sealer seals the values (the session Sealer, so every instance with
	// the session secrets opens them). Required.
	Sealer *session.Sealer
	// Logger receives re-seal outcomes (storage keys, never values).
	// Default: none.
	Logger *zap.Logger
	// LockTTL is how long a lock outlives its holder: the holder renews it
	// every third of it while it holds it, so only a holder that died (or
	// lost Redis) lets it expire. Default 10s.
	LockTTL time.Duration
	// PollInterval is how often a waiting Lock tries again (with jitter).
	// Default 100ms.
	PollInterval time.Duration
}

// heldLock is a lock this KeyStore holds.
type heldLock struct {
	release func()
	token   string
	stop    chan struct{}
	done    chan struct{}
	lost    bool // the renewal found the lock gone (expired or taken)
}

// keyStoreKind and keyStoreLockKind start the data and lock keys after the
// client's prefix. They differ before the colon, so a SCAN of data keys
// never meets a lock.
const (
	keyStoreKind     = "assertion:"
	keyStoreLockKind = "assertion-lock:"
)

// valueField and modifiedField are the fields of a data key's hash.
const (
	valueField    = "value"
	modifiedField = "modified"
)

// renewScript extends the lock's expiry only while it still holds our token.
var renewScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0`)

// NewKeyStore returns a KeyStore on c.
func NewKeyStore(c *Client, cfg KeyStoreConfig) (*KeyStore, error) {
	if c == nil || cfg.Sealer == nil {
		return nil, errors.New("fleet: key store needs a client and the session sealer")
	}
	if cfg.LockTTL < 0 || cfg.PollInterval < 0 {
		return nil, errors.New("fleet: key store lock TTL and poll interval must not be negative")
	}
	if cfg.LockTTL == 0 {
		cfg.LockTTL = 10 * time.Second
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 100 * time.Millisecond
	}
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	return &KeyStore{c: c, sealer: cfg.Sealer, log: log, ttl: cfg.LockTTL, poll: cfg.PollInterval, held: map[string]*heldLock{}}, nil
}

var _ certmagic.Storage = (*KeyStore)(nil)

// dataKey is the Redis key of storage key k.
func (s *KeyStore) dataKey(k string) string { return s.c.prefix + keyStoreKind + k }

// Store sets key to value, sealed (one HSET of the sealed value and the
// time).
func (s *KeyStore) Store(ctx context.Context, key string, value []byte) error {
	if key == "" {
		return errors.New("fleet: key store: empty key")
	}
	rkey := s.dataKey(key)
	sealed, err := s.seal(rkey, value)
	if err != nil {
		return err
	}
	now := strconv.FormatInt(time.Now().UnixNano(), 10)
	return s.c.call(ctx, "store key", func(ctx context.Context) error {
		return s.c.rdb.HSet(ctx, rkey, valueField, sealed, modifiedField, now).Err()
	})
}

// Load returns key's value, opened; an error wrapping fs.ErrNotExist when
// there is none, and one wrapping ErrKeyNotOpened when it does not open
// with any configured secret. A value that opened only with an older
// secret is re-sealed with the first one (written only if still
// unchanged).
func (s *KeyStore) Load(ctx context.Context, key string) ([]byte, error) {
	rkey := s.dataKey(key)
	var stored string
	err := s.c.call(ctx, "load key", func(ctx context.Context) error {
		var e error
		stored, e = s.c.rdb.HGet(ctx, rkey, valueField).Result()
		return e
	})
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("fleet: key store: %q: %w", key, fs.ErrNotExist)
	}
	if err != nil {
		return nil, err
	}
	return s.open(ctx, key, rkey, stored)
}

// Delete removes key and, when it names a directory, every key under it.
// A key that does not exist is not an error.
func (s *KeyStore) Delete(ctx context.Context, key string) error {
	keys, err := s.scan(ctx, dirPrefix(key))
	if err != nil {
		return err
	}
	for _, k := range append([]string{key}, keys...) {
		err := s.c.call(ctx, "delete key", func(ctx context.Context) error {
			return s.c.rdb.Del(ctx, s.dataKey(k)).Err()
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Exists reports whether key is a stored key or a directory of some; false
// also when Redis cannot be asked.
func (s *KeyStore) Exists(ctx context.Context, key string) bool {
	_, err := s.Stat(ctx, key)
	return err == nil
}

// List returns the keys under dir: with recursive, every stored key and
// intermediate directory below it; without, its direct children (keys and
// directories). The names are full keys, sorted.
func (s *KeyStore) List(ctx context.Context, dir string, recursive bool) ([]string, error) {
	prefix := dirPrefix(dir)
	keys, err := s.scan(ctx, prefix)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, k := range keys {
		rest := strings.TrimPrefix(k, prefix)
		parts := strings.Split(rest, "/")
		if !recursive {
			parts = parts[:1]
		}
		for i := range parts {
			seen[prefix+strings.Join(parts[:i+1], "/")] = true
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

// Stat describes key: a stored key (terminal, with the size of its sealed
// form and the time it was stored) or a directory of some (not terminal);
// else an error wrapping fs.ErrNotExist.
func (s *KeyStore) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	var vals []any
	err := s.c.call(ctx, "stat key", func(ctx context.Context) error {
		var e error
		vals, e = s.c.rdb.HMGet(ctx, s.dataKey(key), valueField, modifiedField).Result()
		return e
	})
	if err != nil {
		return certmagic.KeyInfo{}, err
	}
	if v, ok := vals[0].(string); ok {
		info := certmagic.KeyInfo{Key: key, Size: int64(len(v)), IsTerminal: true}
		if m, ok := vals[1].(string); ok {
			if ns, err := strconv.ParseInt(m, 10, 64); err == nil {
				info.Modified = time.Unix(0, ns)
			}
		}
		return info, nil
	}
	keys, err := s.scan(ctx, dirPrefix(key))
	if err != nil {
		return certmagic.KeyInfo{}, err
	}
	if len(keys) == 0 {
		return certmagic.KeyInfo{}, fmt.Errorf("fleet: key store: %q: %w", key, fs.ErrNotExist)
	}
	return certmagic.KeyInfo{Key: key, IsTerminal: false}, nil
}

// dirPrefix is the key prefix of the directory dir ("" for the root).
func dirPrefix(dir string) string {
	dir = strings.Trim(dir, "/")
	if dir == "" {
		return ""
	}
	return dir + "/"
}

// scan returns the stored keys that start with prefix (SCAN on every
// master of a cluster).
func (s *KeyStore) scan(ctx context.Context, prefix string) ([]string, error) {
	base := s.c.prefix + keyStoreKind
	pattern := globEscape(base+prefix) + "*"
	var mu sync.Mutex
	var out []string
	each := func(ctx context.Context, rdb redis.Cmdable) error {
		it := rdb.Scan(ctx, 0, pattern, 256).Iterator()
		for it.Next(ctx) {
			mu.Lock()
			out = append(out, strings.TrimPrefix(it.Val(), base))
			mu.Unlock()
		}
		return it.Err()
	}
	err := s.c.call(ctx, "list keys", func(ctx context.Context) error {
		if cc, ok := s.c.rdb.(*redis.ClusterClient); ok {
			return cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error { return each(ctx, m) })
		}
		return each(ctx, s.c.rdb)
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(out)
	return out, nil
}

// globEscape escapes the characters SCAN's MATCH treats specially.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\^`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Lock takes the named lock, waiting (polling every PollInterval) while
// another holder has it, until ctx ends. The lock is a key set only if
// absent, with a random holder token and an expiry of LockTTL that this
// store renews while it holds the lock: a holder that dies lets it expire
// within LockTTL. Redis being unreachable is an error at once (no waiting
// out an outage). Only one lock per name is held by a KeyStore at a time;
// a second Lock of a name it holds waits like any other.
func (s *KeyStore) Lock(ctx context.Context, name string) error {
	key := s.c.prefix + keyStoreLockKind + name
	for {
		release, token, ok, err := s.c.tryLockToken(ctx, key, s.ttl)
		if err != nil {
			return err
		}
		if ok {
			h := &heldLock{release: release, token: token, stop: make(chan struct{}), done: make(chan struct{})}
			s.mu.Lock()
			s.held[name] = h
			s.mu.Unlock()
			go s.renew(key, h)
			return nil
		}
		if !sleep(ctx, s.poll) {
			return fmt.Errorf("fleet: waiting for lock %s: %w", name, ctx.Err())
		}
	}
}

// renew extends h's expiry every third of the TTL until Unlock stops it,
// or until the lock is found gone or Redis fails (then it expires).
func (s *KeyStore) renew(key string, h *heldLock) {
	defer close(h.done)
	t := time.NewTicker(s.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.ttl/3)
		var n int64
		err := s.c.call(ctx, "renew lock", func(ctx context.Context) error {
			var e error
			n, e = renewScript.Run(ctx, s.c.rdb, []string{key}, h.token, s.ttl.Milliseconds()).Int64()
			return e
		})
		cancel()
		if err != nil || n == 0 {
			h.lost = n == 0 && err == nil
			return
		}
	}
}

// Unlock releases the named lock (a compare-and-delete: a lock that
// expired and was taken by another holder is left alone). It is an error
// to unlock a name this store does not hold, and to find that the lock
// had been lost before Unlock (another holder may then have run at the
// same time).
func (s *KeyStore) Unlock(_ context.Context, name string) error {
	s.mu.Lock()
	h := s.held[name]
	delete(s.held, name)
	s.mu.Unlock()
	if h == nil {
		return fmt.Errorf("fleet: unlock %s: this instance does not hold that lock", name)
	}
	close(h.stop)
	<-h.done
	h.release()
	if h.lost {
		return fmt.Errorf("fleet: lock %s had expired before it was released", name)
	}
	return nil
}
