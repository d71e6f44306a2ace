package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/edgeauth/caddy-edgeauth/module/session"
	"github.com/edgeauth/caddy-edgeauth/module/sts"
	"github.com/edgeauth/caddy-edgeauth/module/token"
)

// Every write of a session to Redis is conditional (see the package doc,
// "Conditional writes"):
//
//   - a new login is created with SET NX: it never overwrites anything,
//     and a tombstone left by a back-channel logout makes it fail;
//   - a refreshed session replaces the stored value only if that value is
//     still exactly the one the refresh started from (compare-and-set in
//     replaceScript). Sealed values carry a random nonce, so the raw value
//     is a version: a session ended meanwhile (absent or tombstone) stays
//     ended, and one replaced by another refresh is not overwritten by a
//     stale one;
//   - logout deletes, and back-channel logout writes a tombstone, without
//     condition: ending a session always wins. Back-channel logout first
//     leaves a mark on the sid (or sub), and put checks the marks after
//     indexing and before writing, so a login or refresh in flight either
//     is found in the index and ended, or sees the mark and stores
//     nothing.
//
// Each script touches one key, so every command works on Redis Cluster
// without hash tags (the steps above are ordered by waiting for each
// reply, which holds across slots); the index sets are written before the
// session and tidied after a refused write (see put).

// tombstone is the value back-channel logout leaves in place of a session
// (for the session lifetime), so that a login or refresh that indexed the
// session before the logout cannot store it afterwards. It never opens as
// a sealed value, so Load treats it as no session.
const tombstone = "!ended"

// writeResult is the outcome of a conditional session write.
type writeResult int

const (
	// written: the session was stored.
	written writeResult = iota
	// ended: the session is gone (logout) or has a tombstone (back-channel
	// logout); nothing was written.
	ended
	// changed: another writer stored a different value meanwhile (another
	// refresh); nothing was written.
	changed
)

// createScript stores a new session unless the key exists. It returns 1
// when stored, -1 for a tombstone and 0 for any other value.
var createScript = redis.NewScript(`
local cur = redis.call("GET", KEYS[1])
if cur == false then
	redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
	return 1
end
if cur == ARGV[3] then return -1 end
return 0`)

// replaceScript stores ARGV[2] only if the key still holds ARGV[1] (the
// value the refresh started from) and then publishes the key on the
// invalidation channel ARGV[5], so every instance drops its near-cached
// copy. It returns 1 when stored, -1 when the key is absent or a
// tombstone, 0 when it holds another value (nothing is published then).
var replaceScript = redis.NewScript(`
local cur = redis.call("GET", KEYS[1])
if cur == false or cur == ARGV[4] then return -1 end
if cur ~= ARGV[1] then return 0 end
redis.call("SET", KEYS[1], ARGV[2], "PX", ARGV[3])
redis.call("PUBLISH", ARGV[5], KEYS[1])
return 1`)

// endScript replaces a session by a tombstone for ARGV[2] ms, whatever it
// holds (a logout always wins), and publishes the key on the invalidation
// channel ARGV[3]. It returns 1 when a session was there.
var endScript = redis.NewScript(`
local cur = redis.call("GET", KEYS[1])
redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
redis.call("PUBLISH", ARGV[3], KEYS[1])
if cur == false or cur == ARGV[1] then return 0 end
return 1`)

// deleteScript deletes a session (logout) and, when there was one,
// publishes its key on the invalidation channel ARGV[1].
var deleteScript = redis.NewScript(`
local n = redis.call("DEL", KEYS[1])
if n == 1 then redis.call("PUBLISH", ARGV[1], KEYS[1]) end
return n`)

// getRaw loads the session with this ID and also returns its stored raw
// value, the version a later replace is conditional on.
func (s *Store) getRaw(ctx context.Context, id string) (*session.Session, string, error) {
	key := s.sessionKey(id)
	var val string
	err := s.c.call(ctx, "load session", func(ctx context.Context) error {
		var e error
		val, e = s.c.rdb.Get(ctx, key).Result()
		return e
	})
	if errors.Is(err, redis.Nil) {
		return nil, "", session.ErrNoSession
	}
	if err != nil {
		return nil, "", err
	}
	sess, err := s.open(key, id, val)
	return sess, val, err
}

// create stores a new session (a login) without overwriting anything.
func (s *Store) create(ctx context.Context, sess *session.Session) (writeResult, error) {
	return s.put(ctx, sess, "")
}

// replace stores sess, a refresh of the session whose stored raw value was
// prev, only if Redis still holds prev.
func (s *Store) replace(ctx context.Context, sess *session.Session, prev string) (writeResult, error) {
	if prev == "" {
		return ended, errors.New("fleet: replacing a session needs the value it was refreshed from")
	}
	return s.put(ctx, sess, prev)
}

// put writes sess with its TTL: created when prev is empty, else replacing
// prev. The (iss, sid) and (iss, sub) index entries are written first, so
// that a back-channel logout that runs before the session is stored still
// finds it (and leaves a tombstone that refuses the write); when the write
// is refused because the session ended, the entries are removed again.
func (s *Store) put(ctx context.Context, sess *session.Session, prev string) (writeResult, error) {
	now := s.now()
	ttl := s.ttl(sess, now)
	if ttl <= 0 {
		return ended, errors.New("fleet: refusing to store a session whose lifetime has ended")
	}
	pt, err := json.Marshal(sess)
	if err != nil {
		return ended, fmt.Errorf("fleet: encoding session: %w", err)
	}
	key := s.sessionKey(sess.ID)
	sealed := s.sealer.SealUntil(pt, valueAAD(key), now.Add(ttl))
	member := sts.Key(sess.ID)
	indexes := s.indexKeys(sess)
	err = s.c.call(ctx, "index session", func(ctx context.Context) error {
		return pipelineErr(s.c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, idx := range indexes {
				indexScript.Eval(ctx, p, []string{idx}, member, ttl.Milliseconds())
			}
			return nil
		}))
	})
	if err != nil {
		return ended, err
	}
	if s.beforeWrite != nil {
		s.beforeWrite()
	}
	n, err := s.write(ctx, sess, key, sealed, ttl, prev)
	if prev != "" {
		// Our own copy goes at once (the published invalidation reaches
		// the other instances, and this one again a little later).
		s.dropNear(key)
	}
	if err != nil {
		return ended, err
	}
	switch n {
	case 1:
		return written, nil
	case 0:
		return changed, nil
	}
	// Ended: this ID can never be stored again, so its index entries only
	// point at nothing. Best effort; they expire with the index anyway.
	_ = s.c.call(ctx, "tidy index", func(ctx context.Context) error {
		return pipelineErr(s.c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, idx := range indexes {
				p.SRem(ctx, idx, member)
			}
			return nil
		}))
	})
	return ended, nil
}

// write stores sealed under key (see put) unless a back-channel logout
// mark ends sess. It returns 1 when stored, 0 when another value is there
// and -1 when the session has ended.
func (s *Store) write(ctx context.Context, sess *session.Session, key, sealed string, ttl time.Duration, prev string) (int64, error) {
	gone, err := s.endedByMark(ctx, sess)
	if err != nil {
		return 0, err
	}
	if gone {
		if prev != "" {
			// The refresh tells us the session belongs to an ended sid (or
			// predates a logout of its sub): end the stored one too.
			err = s.c.call(ctx, "end session", func(ctx context.Context) error {
				return endScript.Run(ctx, s.c.rdb, []string{key}, tombstone, s.endTTL().Milliseconds(), s.c.invalidationChannel()).Err()
			})
		}
		return -1, err
	}
	var n int64
	err = s.c.call(ctx, "save session", func(ctx context.Context) error {
		var e error
		if prev == "" {
			n, e = createScript.Run(ctx, s.c.rdb, []string{key}, sealed, ttl.Milliseconds(), tombstone).Int64()
		} else {
			n, e = replaceScript.Run(ctx, s.c.rdb, []string{key}, prev, sealed, ttl.Milliseconds(), tombstone, s.c.invalidationChannel()).Int64()
		}
		return e
	})
	return n, err
}

// indexKeys are the back-channel logout index sets sess belongs to.
func (s *Store) indexKeys(sess *session.Session) []string {
	iss, _ := sess.Claims["iss"].(string)
	sid, _ := sess.Claims["sid"].(string)
	var keys []string
	if sid != "" {
		keys = append(keys, s.c.key("sid", iss, sid))
	}
	if sess.Subject != "" {
		keys = append(keys, s.c.key("sub", iss, sess.Subject))
	}
	return keys
}

// endMarkScript records for ARGV[2] ms that the sessions of a sid or sub
// whose ID token was issued at or before ARGV[1] (Unix seconds) have been
// ended; a later time is never lowered and the mark never shortened.
var endMarkScript = redis.NewScript(`
local cur = tonumber(redis.call("GET", KEYS[1]) or "-1")
if cur < tonumber(ARGV[1]) then
	redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
elseif redis.call("PTTL", KEYS[1]) < tonumber(ARGV[2]) then
	redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 1`)

// markKey is the end mark of the sessions of issuer with this sid or sub
// (kind "sid" or "sub").
func (s *Store) markKey(kind, issuer, value string) string {
	return s.c.key("ended:"+kind, issuer, value)
}

// endedByMark reports whether a back-channel logout has ended sess's sid
// (any session with that sid) or its sub (sessions whose ID token was
// issued no later than the logout token). put checks it after indexing:
// either the logout finds the index entry, or put finds its mark. A
// session without a valid iat counts as issued at its login (CreatedAt,
// by the gateway's clock; a zero CreatedAt is always refused).
func (s *Store) endedByMark(ctx context.Context, sess *session.Session) (bool, error) {
	iss, _ := sess.Claims["iss"].(string)
	sid, _ := sess.Claims["sid"].(string)
	var sidKey, subKey string
	if sid != "" {
		sidKey = s.markKey("sid", iss, sid)
	}
	if sess.Subject != "" {
		subKey = s.markKey("sub", iss, sess.Subject)
	}
	if sidKey == "" && subKey == "" {
		return false, nil
	}
	var sidMark, subMark *redis.StringCmd
	err := s.c.call(ctx, "check logouts", func(ctx context.Context) error {
		cmds, err := s.c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			if sidKey != "" {
				sidMark = p.Get(ctx, sidKey)
			}
			if subKey != "" {
				subMark = p.Get(ctx, subKey)
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		for _, c := range cmds {
			if c.Err() != nil && !errors.Is(c.Err(), redis.Nil) {
				return c.Err()
			}
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	if sidMark != nil && sidMark.Err() == nil {
		return true, nil
	}
	if subMark != nil && subMark.Err() == nil {
		mark, err := subMark.Int64()
		if err != nil {
			return true, nil // not ours to read: fail closed
		}
		issued := sess.CreatedAt.Unix() // login time, for ID tokens without iat
		if t, ok := token.NumericDate(sess.Claims["iat"]); ok {
			issued = t.Unix()
		}
		if issued <= mark {
			return true, nil
		}
	}
	return false, nil
}

// endTTL is how long a tombstone stays: as long as any session may live.
func (s *Store) endTTL() time.Duration { return s.lifetime }

// pipelineErr returns the first error of a pipeline.
func pipelineErr(cmds []redis.Cmder, err error) error {
	if err != nil {
		return err
	}
	for _, c := range cmds {
		if c.Err() != nil {
			return c.Err()
		}
	}
	return nil
}
