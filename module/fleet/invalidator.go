package fleet

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Channel names and message forms of the invalidation link (see
// Invalidator). Payloads hold Redis keys, which are SHA-256 hashes: no raw
// session ID is ever published.
const (
	invalidationChannel = "invalidate"    // <prefix>invalidate: "<session key>"
	heartbeatChannel    = "invalidate:hb" // <prefix>invalidate:hb:<instance>: "<seq>"
)

// invalidator keeps a Store's near-cache coherent with Redis.
//
// Every script that replaces or deletes a session publishes its key on
// <prefix>invalidate (PUBLISH inside the same script, so an invalidation
// is sent exactly when the write happened). Each instance subscribes to
// that channel and drops the key from its near-cache.
//
// Pub/sub delivery is at most once: a message published while the link is
// down, resubscribing, or silently dead is lost. So the cache is only used
// while the link is proven current: every heartbeat interval (lease/2) the
// instance sends a sequence number that must come back on the subscriber
// connection — as a PING on that connection (single server, Sentinel), or
// published on its own channel <prefix>invalidate:hb:<id> on every master
// (Cluster). Redis answers one connection in the order it executed the
// commands, so when the heartbeat sent at T comes back, every invalidation
// executed before T has been received and applied. Cached copies are then trusted until T + lease.
// A revocation executed at R > T is therefore served from a stale copy for
// at most lease after R, whatever happened to the link; after that, Load
// reads Redis (and, under fallback closed, refuses when Redis is down).
//
// On Redis Cluster, PUBLISH (not SPUBLISH) is used: a classic message is
// forwarded by the node that ran the script to every node over the cluster
// bus, so one subscription on any node receives all invalidations, and the
// heartbeat is published on every master, so that it follows each master's
// invalidations on that master's bus link. Sharded SPUBLISH would confine
// each message to the shard of its channel and need a subscription per
// shard with channels chosen to hash into each one; the invalidation rate
// (logouts and refreshes, not requests) does not need that scaling.
//
// On every (re)subscription the cache is flushed and trust starts over
// from the first heartbeat sent after the subscription was confirmed: the
// link recovers by itself, without a restart.
type invalidator struct {
	c        *Client
	cache    *nearCache
	channel  string
	hbChan   string
	lease    time.Duration
	interval time.Duration
	base     time.Time // monotonic origin of the times below

	trustedUntil atomic.Int64  // ns since base; 0 = not trusted
	lastUse      atomic.Int64  // ns since base of the last trusted() call
	wake         chan struct{} // a Load found the link idle: beat now

	mu         sync.Mutex
	ps         *redis.PubSub // the current subscription (nil between links)
	seq        uint64
	epochStart uint64 // first heartbeat counted for this subscription; 0 = not subscribed
	rounds     map[uint64]*hbRound

	log *zap.Logger

	resubscribes  atomic.Uint64
	invalidations atomic.Uint64

	cancel context.CancelFunc
	done   chan struct{}
}

// hbRound is one heartbeat, published on want masters (want is 0 until
// all publishes returned).
type hbRound struct {
	sent      int64
	want, got int
}

func newInvalidator(c *Client, cache *nearCache, lease time.Duration) *invalidator {
	return &invalidator{
		c: c, cache: cache,
		channel:  c.prefix + invalidationChannel,
		hbChan:   c.prefix + heartbeatChannel + ":" + randomToken(),
		lease:    lease,
		interval: max(lease/2, 10*time.Millisecond),
		base:     time.Now(),
		rounds:   make(map[uint64]*hbRound),
		log:      zap.NewNop(),
		wake:     make(chan struct{}, 1),
	}
}

func (v *invalidator) mono() int64 { return int64(time.Since(v.base)) }

// idleAfter: an instance that served no request for this long stops its
// heartbeat (an idle gateway costs Redis nothing); its next request reads
// Redis and wakes the heartbeat.
const idleAfter = 2 * time.Second

// trusted reports whether cached copies may be served now.
func (v *invalidator) trusted() bool {
	now := v.mono()
	if now-v.lastUse.Load() > int64(10*time.Millisecond) {
		if now-v.lastUse.Swap(now) > int64(idleAfter) {
			v.beatNow()
		}
	}
	if now < v.trustedUntil.Load() {
		return true
	}
	if v.trustedUntil.Load() != 0 {
		v.beatNow() // trust lapsed (a late heartbeat): try to renew it at once
	}
	return false
}

// beatNow asks the heartbeat loop for a beat now (never blocks).
func (v *invalidator) beatNow() {
	select {
	case v.wake <- struct{}{}:
	default:
	}
}

// start runs the subscriber and the heartbeat until stop.
func (v *invalidator) start() {
	ctx, cancel := context.WithCancel(context.Background())
	v.cancel, v.done = cancel, make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); v.subscribeLoop(ctx) }()
	go func() { defer wg.Done(); v.heartbeatLoop(ctx) }()
	go func() { wg.Wait(); close(v.done) }()
}

// stop ends both loops and waits for them.
func (v *invalidator) stop() {
	if v.cancel != nil {
		v.cancel()
		<-v.done
	}
}

func (v *invalidator) subscribeLoop(ctx context.Context) {
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		ps := v.c.rdb.Subscribe(ctx, v.channel, v.hbChan)
		v.mu.Lock()
		v.ps = ps
		v.mu.Unlock()
		ok, err := v.listen(ctx, ps)
		v.mu.Lock()
		v.ps = nil
		v.mu.Unlock()
		if ok {
			backoff = 50 * time.Millisecond
		}
		_ = ps.Close()
		v.lost()
		if ctx.Err() == nil {
			v.log.Warn("session near-cache: invalidation link lost; reading sessions from Redis until it is back",
				zap.Bool("was_subscribed", ok), zap.Error(err))
		}
		if !sleep(ctx, backoff) {
			return
		}
		backoff = min(2*backoff, time.Second)
	}
}

// listen handles messages until the link fails; it reports whether the
// subscription had been confirmed, and why it ended.
func (v *invalidator) listen(ctx context.Context, ps *redis.PubSub) (bool, error) {
	// A live link carries our heartbeat every interval (or, while this
	// instance is idle and sends none, answers a PING): two silent periods
	// in a row mean it is dead even if TCP has not noticed. Trust needs
	// fresh heartbeats anyway, so this only bounds the time to recover.
	idle := max(4*v.interval, time.Second)
	confirmed := false
	silent := 0
	for {
		msg, err := ps.ReceiveTimeout(ctx, idle)
		var ne net.Error
		if err != nil && errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil && silent == 0 {
			silent++
			if err := ps.Ping(ctx); err != nil {
				return confirmed, err
			}
			continue
		}
		if err != nil {
			return confirmed, err
		}
		silent = 0
		switch m := msg.(type) {
		case *redis.Subscription:
			// One confirmation per channel; both are on this connection,
			// so the second one covers both.
			if m.Kind == "subscribe" && m.Count == 2 {
				confirmed = true
				v.subscribed()
				v.log.Info("session near-cache: invalidation link subscribed", zap.String("channel", v.channel))
			}
		case *redis.Message:
			v.handle(m.Channel, m.Payload)
		case *redis.Pong:
			if seq, ok := strings.CutPrefix(m.Payload, pingPrefix); ok {
				v.handle(v.hbChan, seq)
			}
		}
	}
}

// subscribed starts trust over: what was cached may have missed
// invalidations while the link was down.
func (v *invalidator) subscribed() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.trustedUntil.Store(0)
	v.cache.flush()
	v.epochStart = v.seq + 1
	clear(v.rounds)
	v.resubscribes.Add(1)
}

// lost ends trust until the next subscription is confirmed.
func (v *invalidator) lost() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.trustedUntil.Store(0)
	v.cache.flush()
	v.epochStart = 0
	clear(v.rounds)
}

// handle applies one message: an invalidation drops its key; our own
// heartbeat, once received from every master it was published on,
// extends trust to its send time plus the lease.
func (v *invalidator) handle(channel, payload string) {
	if channel == v.channel {
		v.invalidations.Add(1)
		v.cache.invalidate(payload)
		return
	}
	if channel != v.hbChan {
		return
	}
	seq, err := strconv.ParseUint(payload, 10, 64)
	if err != nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	r, ok := v.rounds[seq]
	if !ok || v.epochStart == 0 || seq < v.epochStart {
		return // sent before this subscription, or already counted
	}
	r.got++
	v.confirm(seq, r)
}

// confirm extends trust when round seq is complete. v.mu is held.
func (v *invalidator) confirm(seq uint64, r *hbRound) {
	if r.want == 0 || r.got < r.want {
		return
	}
	delete(v.rounds, seq)
	until := r.sent + int64(v.lease)
	if until > v.trustedUntil.Load() {
		v.trustedUntil.Store(until)
	}
	// Older rounds can no longer extend trust.
	for s := range v.rounds {
		if s < seq {
			delete(v.rounds, s)
		}
	}
}

func (v *invalidator) heartbeatLoop(ctx context.Context) {
	t := time.NewTicker(v.interval)
	defer t.Stop()
	var last int64 = -1 << 62
	for {
		if v.mono()-v.lastUse.Load() <= int64(idleAfter) {
			last = v.mono()
			v.beat(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-v.wake:
			// Extra beats (wake-up, lapsed trust) at most every 20ms, so
			// a broken publish path is not retried in a tight loop.
			if gap := time.Duration(v.mono()-last) - 20*time.Millisecond; gap < 0 && !sleep(ctx, -gap) {
				return
			}
		}
	}
}

// beat publishes one heartbeat on every master.
func (v *invalidator) beat(ctx context.Context) {
	v.mu.Lock()
	v.seq++
	seq := v.seq
	r := &hbRound{sent: v.mono()}
	if v.epochStart != 0 {
		v.rounds[seq] = r
	}
	v.mu.Unlock()

	pctx, cancel := context.WithTimeout(ctx, v.lease)
	defer cancel()
	payload := strconv.FormatUint(seq, 10)
	n, err := v.publishAll(pctx, payload)
	v.mu.Lock()
	defer v.mu.Unlock()
	if err != nil || n == 0 {
		delete(v.rounds, seq)
		return
	}
	r.want = n
	if _, ok := v.rounds[seq]; ok {
		v.confirm(seq, r)
	}
}

// pingPrefix starts the payload of a heartbeat sent as a PING on the
// subscription itself.
const pingPrefix = "hb:"

// publishAll sends the heartbeat and returns on how many masters. On a
// single server or Sentinel master it is a PING with the payload on the
// subscription connection itself: the server answers it on that
// connection after every message published before it ran, the same
// ordering as a published heartbeat, for one command and no fan-out. On
// Cluster the subscription sits on one node while invalidations come from
// every master over the bus, so the heartbeat is published on each master.
func (v *invalidator) publishAll(ctx context.Context, payload string) (int, error) {
	cc, ok := v.c.rdb.(*redis.ClusterClient)
	if !ok {
		v.mu.Lock()
		ps := v.ps
		v.mu.Unlock()
		if ps == nil {
			return 0, nil
		}
		return 1, ps.Ping(ctx, pingPrefix+payload)
	}
	var n atomic.Int64
	err := cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		if err := m.Publish(ctx, v.hbChan, payload).Err(); err != nil {
			return err
		}
		n.Add(1)
		return nil
	})
	return int(n.Load()), err
}
