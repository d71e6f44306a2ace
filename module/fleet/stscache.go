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
)

// STSStore is an sts.SharedStore on Redis: credentials are sealed with the
// session secret (bound to their key) under <prefix>sts:<sha256(cache key)>
// with a TTL ending at their validUntil (which sts.Cache computes as
// min(Expiration − refresh margin, expiry of the source token)), and the
// exchange lock is <prefix>lock:sts:<sha256(cache key)>.
type STSStore struct {
	c      *Client
	sealer *session.Sealer
	now    func() time.Time
}

// NewSTSStore returns a shared credential store. Set it as
// sts.CacheConfig.Shared on every instance's Cache.
func NewSTSStore(c *Client, sealer *session.Sealer) (*STSStore, error) {
	if c == nil || sealer == nil {
		return nil, errors.New("fleet: a Redis client and the session sealer are required for shared STS credentials")
	}
	return &STSStore{c: c, sealer: sealer, now: time.Now}, nil
}

var _ sts.SharedStore = (*STSStore)(nil)

// storedCredentials is the sealed form (sts.Credentials' own JSON form is
// redacted on purpose).
type storedCredentials struct {
	AccessKeyID     string `json:"ak,omitempty"`
	AccessKeySecret string `json:"sk,omitempty"`
	SecurityToken   string `json:"st,omitempty"`
	Expiration      int64  `json:"exp"`
	ValidUntil      int64  `json:"vu"`
	AssumedRoleARN  string `json:"arn,omitempty"`
	AssumedRoleID   string `json:"rid,omitempty"`
	RequestID       string `json:"req,omitempty"`
	Subject         string `json:"sub,omitempty"`
	Issuer          string `json:"iss,omitempty"`
	SourceIdentity  string `json:"src,omitempty"`
}

func credsAAD(key string) []byte { return []byte("edgeauth sts credentials\x00" + key) }

// Get implements sts.SharedStore. Values that do not open (retired secret)
// count as absent.
func (s *STSStore) Get(ctx context.Context, key string) (*sts.Credentials, time.Time, error) {
	rkey := s.c.key("sts", key)
	var val string
	err := s.c.call(ctx, "load credentials", func(ctx context.Context) error {
		var e error
		val, e = s.c.rdb.Get(ctx, rkey).Result()
		return e
	})
	if errors.Is(err, redis.Nil) {
		return nil, time.Time{}, nil
	}
	if err != nil {
		return nil, time.Time{}, err
	}
	pt, err := s.sealer.OpenAt(val, credsAAD(rkey), s.now())
	if err != nil {
		return nil, time.Time{}, nil
	}
	var w storedCredentials
	if err := json.Unmarshal(pt, &w); err != nil {
		return nil, time.Time{}, nil
	}
	return &sts.Credentials{
		AccessKeyID: w.AccessKeyID, AccessKeySecret: w.AccessKeySecret, SecurityToken: w.SecurityToken,
		Expiration: time.UnixMilli(w.Expiration), AssumedRoleARN: w.AssumedRoleARN, AssumedRoleID: w.AssumedRoleID,
		RequestID: w.RequestID, Subject: w.Subject, Issuer: w.Issuer, SourceIdentity: w.SourceIdentity,
	}, time.UnixMilli(w.ValidUntil), nil
}

// setCredsScript stores credentials only when they stay valid longer than
// what the key holds (its PTTL; -2 when absent): an instance whose exchange
// finished late (its lock had expired) never replaces the newer
// credentials another instance published meanwhile.
var setCredsScript = redis.NewScript(`
if redis.call("PTTL", KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
return 1`)

// Set implements sts.SharedStore. Credentials already past validUntil (or
// their Expiration) are not stored, nor are credentials that would expire
// no later than those already stored under key (the stored ones are kept).
func (s *STSStore) Set(ctx context.Context, key string, cr *sts.Credentials, validUntil time.Time) error {
	if cr == nil {
		return errors.New("fleet: no credentials to store")
	}
	if cr.Expiration.Before(validUntil) {
		validUntil = cr.Expiration
	}
	ttl := validUntil.Sub(s.now())
	if ttl < time.Millisecond {
		return nil
	}
	pt, err := json.Marshal(storedCredentials{
		AccessKeyID: cr.AccessKeyID, AccessKeySecret: cr.AccessKeySecret, SecurityToken: cr.SecurityToken,
		Expiration: cr.Expiration.UnixMilli(), ValidUntil: validUntil.UnixMilli(),
		AssumedRoleARN: cr.AssumedRoleARN, AssumedRoleID: cr.AssumedRoleID, RequestID: cr.RequestID,
		Subject: cr.Subject, Issuer: cr.Issuer, SourceIdentity: cr.SourceIdentity,
	})
	if err != nil {
		return fmt.Errorf("fleet: encoding credentials: %w", err)
	}
	rkey := s.c.key("sts", key)
	sealed := s.sealer.SealUntil(pt, credsAAD(rkey), validUntil)
	return s.c.call(ctx, "store credentials", func(ctx context.Context) error {
		return setCredsScript.Run(ctx, s.c.rdb, []string{rkey}, sealed, ttl.Milliseconds()).Err()
	})
}

// TryLock implements sts.SharedStore.
func (s *STSStore) TryLock(ctx context.Context, key string, ttl time.Duration) (func(), bool, error) {
	return s.c.tryLock(ctx, s.c.key("lock:sts", key), ttl)
}
