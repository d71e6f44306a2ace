package fleet

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/redis/go-redis/v9"
)

// unlockScript deletes the lock only if it still holds our token, so a
// holder whose lock expired never releases someone else's.
var unlockScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1])
end
return 0`)

// releaseTimeout bounds an unlock, which runs detached from the caller's
// context (a caller that gave up must still release).
const releaseTimeout = time.Second

// tryLock tries once to take the lock key for ttl (SET NX PX with a random
// token). ok is false when someone else holds it; release (set when ok)
// deletes it with a compare-and-delete, and is safe to call more than once.
func (c *Client) tryLock(ctx context.Context, key string, ttl time.Duration) (release func(), ok bool, err error) {
	release, _, ok, err = c.tryLockToken(ctx, key, ttl)
	return release, ok, err
}

// tryLockToken is tryLock that also returns the holder token (for a
// holder that renews its lock, see KeyStore).
func (c *Client) tryLockToken(ctx context.Context, key string, ttl time.Duration) (release func(), token string, ok bool, err error) {
	token = randomToken()
	err = c.call(ctx, "take lock", func(ctx context.Context) error {
		var e error
		ok, e = c.rdb.SetNX(ctx, key, token, ttl).Result()
		return e
	})
	if err != nil || !ok {
		return nil, "", false, err
	}
	var done bool
	release = func() {
		if done {
			return
		}
		done = true
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
		defer cancel()
		// On failure the lock simply expires after ttl.
		_ = c.call(rctx, "release lock", func(ctx context.Context) error {
			return unlockScript.Run(ctx, c.rdb, []string{key}, token).Err()
		})
	}
	return release, token, true, nil
}

// sleep waits about d (with up to 50 % jitter, so waiters do not poll in
// lock step) or until ctx ends; it reports whether ctx is still alive.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d + rand.N(d/2+1))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
