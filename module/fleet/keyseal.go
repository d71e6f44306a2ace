package fleet

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/edgeauth/caddy-edgeauth/module/session"
)

// ErrKeyNotOpened means a KeyStore value is in Redis but does not open
// with any configured session secret: it was sealed with a secret no
// longer configured, moved from another key, altered, or written unsealed.
// It does not wrap fs.ErrNotExist, so a caller that generates a value when
// there is none (assertsign) fails closed instead of replacing it.
var ErrKeyNotOpened = errors.New("the stored value does not open with any configured session secret (sealed with a secret no longer configured, moved from another key, or altered)")

// keyAAD binds a KeyStore value to its Redis key: a value copied to another
// key does not open there.
func keyAAD(rkey string) []byte { return []byte("edgeauth key store\x00" + rkey) }

// resealScript replaces a KeyStore value (field ARGV[1]) with ARGV[3] only
// while it still is exactly ARGV[2], the value that was read: a re-seal
// never overwrites a value written meanwhile (a rotated key set).
var resealScript = redis.NewScript(`
if redis.call("HGET", KEYS[1], ARGV[1]) == ARGV[2] then
	redis.call("HSET", KEYS[1], ARGV[1], ARGV[3])
	return 1
end
return 0`)

// seal seals value for the Redis key rkey with the first session secret.
func (s *KeyStore) seal(rkey string, value []byte) (string, error) {
	sealed := s.sealer.Seal(value, keyAAD(rkey))
	if len(sealed) > session.MaxSealedLen {
		return "", fmt.Errorf("fleet: key store: a value of %d bytes is too large: sealed it would exceed %d bytes", len(value), session.MaxSealedLen)
	}
	return sealed, nil
}

// open opens the value stored under the storage key key (Redis key rkey).
// A value that opened only with an older secret is re-sealed with the
// first one (see reseal); that the re-seal fails does not fail the open.
func (s *KeyStore) open(ctx context.Context, key, rkey, stored string) ([]byte, error) {
	value, i, err := s.sealer.OpenWithIndex(stored, keyAAD(rkey))
	if err != nil {
		return nil, fmt.Errorf("fleet: key store: %q: %w", key, ErrKeyNotOpened)
	}
	if i > 0 {
		if s.beforeReseal != nil {
			s.beforeReseal()
		}
		s.reseal(ctx, key, rkey, stored, value)
	}
	return value, nil
}

// reseal writes value sealed with the first secret in place of stored,
// conditionally (resealScript), so that the key set keeps opening once the
// older secret is removed from the configuration. It logs the outcome
// (never the value).
func (s *KeyStore) reseal(ctx context.Context, key, rkey, stored string, value []byte) {
	sealed, err := s.seal(rkey, value)
	if err != nil {
		s.log.Warn("key store: re-sealing with the first session secret failed", zap.String("storage_key", key), zap.Error(err))
		return
	}
	var n int64
	err = s.c.call(ctx, "re-seal key", func(ctx context.Context) error {
		var e error
		n, e = resealScript.Run(ctx, s.c.rdb, []string{rkey}, valueField, stored, sealed).Int64()
		return e
	})
	switch {
	case err != nil:
		s.log.Warn("key store: re-sealing with the first session secret failed; retried at the next load", zap.String("storage_key", key), zap.Error(err))
	case n == 0:
		s.log.Info("key store: not re-sealed: the value changed since it was read (a newer one was written)", zap.String("storage_key", key))
	default:
		s.log.Info("key store: re-sealed with the first session secret; the older secret is no longer needed for it", zap.String("storage_key", key))
	}
}
