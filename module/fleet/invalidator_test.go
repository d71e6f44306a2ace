package fleet

import (
	"strconv"
	"testing"
	"time"
)

// newTestInvalidator is an invalidator without network: tests feed it
// messages through handle and rounds through beatRound.
func newTestInvalidator(lease time.Duration) *invalidator {
	c := &Client{prefix: "test:"}
	return newInvalidator(c, newNearCache(100, 1<<20), lease)
}

// beatRound registers heartbeat round seq as published on want masters.
func (v *invalidator) beatRound(want int) uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.seq++
	r := &hbRound{sent: v.mono(), want: want}
	if v.epochStart != 0 {
		v.rounds[v.seq] = r
	}
	return v.seq
}

func (v *invalidator) hb(seq uint64) { v.handle(v.hbChan, strconv.FormatUint(seq, 10)) }

// TestInvalidatorTrustNeedsOwnHeartbeatAfterSubscription: nothing is
// trusted before the subscription is confirmed and one of our heartbeats
// sent after it came back; heartbeats sent before it do not count.
func TestInvalidatorTrustNeedsOwnHeartbeatAfterSubscription(t *testing.T) {
	v := newTestInvalidator(500 * time.Millisecond)
	early := v.beatRound(1) // sent while not subscribed: not even registered
	v.subscribed()
	v.hb(early)
	if v.trusted() {
		t.Fatal("trusted on a heartbeat sent before the subscription")
	}
	s := v.beatRound(1)
	v.handle(v.c.prefix+heartbeatChannel+":someone-else", strconv.FormatUint(s, 10))
	if v.trusted() {
		t.Fatal("trusted on another instance's heartbeat channel")
	}
	v.hb(s)
	if !v.trusted() {
		t.Fatal("not trusted after our own heartbeat came back")
	}
	v.lost()
	if v.trusted() {
		t.Fatal("still trusted after the link was lost")
	}
	v.hb(s) // a late duplicate after the loss
	if v.trusted() {
		t.Fatal("a heartbeat from before the loss restored trust")
	}
}

// TestInvalidatorOutOfOrderHeartbeats: a late older heartbeat never moves
// trust back, a replayed one never extends it, and a cluster round counts
// only when every master's copy arrived.
func TestInvalidatorOutOfOrderHeartbeats(t *testing.T) {
	v := newTestInvalidator(300 * time.Millisecond)
	v.subscribed()
	first := v.beatRound(1)
	time.Sleep(20 * time.Millisecond)
	second := v.beatRound(1)
	v.hb(second)
	until := v.trustedUntil.Load()
	v.hb(first) // older, arriving late
	if got := v.trustedUntil.Load(); got != until {
		t.Errorf("a late older heartbeat moved trust from %d to %d", until, got)
	}
	time.Sleep(320 * time.Millisecond)
	v.hb(second) // replayed (say, a forged copy): already counted
	if v.trusted() {
		t.Error("a replayed heartbeat extended trust past its lease")
	}

	three := v.beatRound(3) // published on three masters
	v.hb(three)
	v.hb(three)
	if v.trusted() {
		t.Error("trusted with two of three masters' heartbeats")
	}
	v.hb(three)
	if !v.trusted() {
		t.Error("not trusted with all three masters' heartbeats")
	}
}

// TestInvalidatorLeaseEnds: without new heartbeats, trust ends after the
// lease: a dead link stops the cache within the lease on its own.
func TestInvalidatorLeaseEnds(t *testing.T) {
	v := newTestInvalidator(100 * time.Millisecond)
	v.subscribed()
	v.hb(v.beatRound(1))
	if !v.trusted() {
		t.Fatal("not trusted")
	}
	time.Sleep(110 * time.Millisecond)
	if v.trusted() {
		t.Error("trusted after the lease with no heartbeat since")
	}
}

// TestInvalidatorMessagesDropKeys: an invalidation drops the key, and a
// resubscription flushes everything.
func TestInvalidatorMessagesDropKeys(t *testing.T) {
	v := newTestInvalidator(time.Second - time.Millisecond)
	now := time.Now()
	for _, k := range []string{"test:session:a", "test:session:b"} {
		v.cache.put(v.cache.ticket(k), k, nearSession(now.Add(time.Hour)), 10, now.Add(time.Hour), now)
	}
	v.handle(v.channel, "test:session:a")
	if _, ok := v.cache.get("test:session:a", now); ok {
		t.Error("invalidated key still cached")
	}
	if _, ok := v.cache.get("test:session:b", now); !ok {
		t.Error("other key dropped")
	}
	v.subscribed()
	if n, _ := v.cache.size(); n != 0 {
		t.Errorf("%d entries after a resubscription, want 0", n)
	}
}
