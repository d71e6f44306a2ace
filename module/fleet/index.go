package fleet

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// End ends every session of issuer whose ID token had this sid or, when
// sid is empty, this sub (OpenID Connect Back-Channel Logout 1.0 §2.7): it
// replaces each of them in Redis by a tombstone that lasts as long as a
// session may, so every instance treats them as logged out and a login or
// refresh of one of them that is still in flight cannot store it again
// (see put). It returns how many sessions were ended. Sessions saved
// without a sid claim can only be ended by subject.
func (s *Store) End(ctx context.Context, issuer, sid, sub string) (int, error) {
	return s.EndIssuedBefore(ctx, issuer, sid, sub, s.now())
}

// EndIssuedBefore is End for a logout token issued at issuedAt (its iat,
// by the provider's clock, as the ID tokens' iat). Before ending the
// indexed sessions it leaves a mark, for the session lifetime, that makes
// a login or refresh still in flight fail when it stores a session with
// this sid, or with this sub and an ID token issued no later than
// issuedAt: such a session is either in the index already (and ended
// here) or refused by the mark (see put).
func (s *Store) EndIssuedBefore(ctx context.Context, issuer, sid, sub string, issuedAt time.Time) (int, error) {
	var idx, mark string
	switch {
	case sid != "":
		idx, mark = s.c.key("sid", issuer, sid), s.markKey("sid", issuer, sid)
	case sub != "":
		idx, mark = s.c.key("sub", issuer, sub), s.markKey("sub", issuer, sub)
	default:
		return 0, errors.New("fleet: ending sessions needs a sid or a sub")
	}
	var ended int
	err := s.c.call(ctx, "end sessions", func(ctx context.Context) error {
		// The mark first: a put that indexes after our SMEMBERS then sees it.
		if err := endMarkScript.Run(ctx, s.c.rdb, []string{mark}, issuedAt.Unix(), s.endTTL().Milliseconds()).Err(); err != nil {
			return err
		}
		members, err := s.c.rdb.SMembers(ctx, idx).Result()
		if err != nil {
			return err
		}
		if len(members) == 0 {
			return nil
		}
		ttl := s.endTTL().Milliseconds()
		cmds, err := s.c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, m := range members {
				endScript.Eval(ctx, p, []string{s.c.prefix + "session:" + m}, tombstone, ttl, s.c.invalidationChannel())
			}
			// The set itself stays: entries added meanwhile by a session
			// saved concurrently are not lost, and it expires with its TTL.
			p.SRem(ctx, idx, toAny(members)...)
			return nil
		})
		for _, m := range members {
			s.dropNear(s.c.prefix + "session:" + m)
		}
		if err != nil {
			return err
		}
		for i := range members {
			n, err := cmds[i].(*redis.Cmd).Int64()
			if err != nil {
				return err
			}
			ended += int(n)
		}
		return nil
	})
	return ended, err
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
