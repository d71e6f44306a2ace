package fleet

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/edgeauth/caddy-edgeauth/module/session"
)

// The near-cache tests run several Stores (instances) on one real Redis,
// each with its own client, so each has its own invalidation link.

func newNearStore(t *testing.T, addr string) *Store {
	t.Helper()
	return newTestStore(t, newClient(t, addr), func(c *StoreConfig) {
		c.NearCache = &NearCacheConfig{}
	})
}

// waitCurrent waits until st's invalidation link is proven current.
func waitCurrent(t *testing.T, st *Store) {
	t.Helper()
	deadline := time.Now().Add(eventually)
	for !st.NearCacheStats().Current {
		if time.Now().After(deadline) {
			t.Fatalf("the invalidation link did not become current within %s: %+v", eventually, st.NearCacheStats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// commandCalls returns INFO commandstats calls per command.
func commandCalls(t *testing.T, addr string) map[string]int64 {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.SplitN(rest, ",", 2)[0], 10, 64)
		out[strings.TrimPrefix(name, "cmdstat_")] = n
	}
	return out
}

// refusedWithin polls st with r until it answers no session and returns
// how long that took after since; it fails the test after limit.
func refusedWithin(t *testing.T, st *Store, r *http.Request, since time.Time, limit time.Duration, what string) time.Duration {
	t.Helper()
	for {
		_, err := st.Load(r)
		if errors.Is(err, session.ErrNoSession) {
			return time.Since(since)
		}
		if err != nil && !errors.Is(err, ErrUnavailable) {
			t.Fatalf("%s: %v", what, err)
		}
		if time.Since(since) > limit {
			t.Fatalf("%s: still served %s after the revocation (bound %s)", what, time.Since(since).Round(time.Millisecond), limit)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestNearCacheServesFromMemory: once read, a session is answered without
// a Redis command on every instance.
func TestNearCacheServesFromMemory(t *testing.T) {
	rs := startRedis(t)
	a, b := newNearStore(t, rs.addr()), newNearStore(t, rs.addr())
	waitCurrent(t, a)
	waitCurrent(t, b)
	s := testSession("https://op.example", "alice", "sid-1")
	r := save(t, a, s)
	for _, st := range []*Store{a, b} {
		if got, err := st.Load(r); err != nil || got.AccessToken != s.AccessToken {
			t.Fatalf("first load: %v", err)
		}
	}
	before := commandCalls(t, rs.addr())
	for range 200 {
		for _, st := range []*Store{a, b} {
			if got, err := st.Load(r); err != nil || got.AccessToken != s.AccessToken {
				t.Fatalf("load: %v", err)
			}
		}
	}
	after := commandCalls(t, rs.addr())
	if d := after["get"] - before["get"]; d != 0 {
		t.Errorf("400 loads of a cached session sent %d GETs to Redis, want 0", d)
	}
	if st := b.NearCacheStats(); st.Hits < 200 || st.Entries != 1 {
		t.Errorf("instance b near-cache: %+v, want ≥ 200 hits and 1 entry", st)
	}
}

// TestNearCacheRevocationReachesEveryInstance: logout, back-channel logout
// and refresh on one instance replace or drop the copy on the others
// within 1 s (in practice the time of one pub/sub message); the worst
// case over the trials is logged.
func TestNearCacheRevocationReachesEveryInstance(t *testing.T) {
	rs := startRedis(t)
	sts := []*Store{newNearStore(t, rs.addr()), newNearStore(t, rs.addr()), newNearStore(t, rs.addr())}
	for _, st := range sts {
		waitCurrent(t, st)
	}
	const iss = "https://op.example"
	var worst [3]time.Duration
	const trials = 20
	for i := range trials {
		// Logout on instance 1.
		s := testSession(iss, "alice", "sid-"+strconv.Itoa(i))
		r := save(t, sts[0], s)
		for _, st := range sts {
			if _, err := st.Load(r); err != nil {
				t.Fatal(err)
			}
		}
		at := time.Now()
		if err := sts[0].Clear(httptest.NewRecorder(), r); err != nil {
			t.Fatal(err)
		}
		for j, st := range sts[1:] {
			worst[0] = max(worst[0], refusedWithin(t, st, r, at, time.Second, "logout, instance "+strconv.Itoa(j+2)))
		}

		// Back-channel logout on instance 2.
		s = testSession(iss, "alice", "bc-"+strconv.Itoa(i))
		r = save(t, sts[0], s)
		for _, st := range sts {
			if _, err := st.Load(r); err != nil {
				t.Fatal(err)
			}
		}
		at = time.Now()
		if n, err := sts[1].End(context.Background(), iss, "bc-"+strconv.Itoa(i), ""); err != nil || n != 1 {
			t.Fatalf("End: %d, %v", n, err)
		}
		for _, j := range []int{0, 2} {
			worst[1] = max(worst[1], refusedWithin(t, sts[j], r, at, time.Second, "back-channel logout, instance "+strconv.Itoa(j+1)))
		}

		// Refresh on instance 3: the others get the new tokens.
		s = testSession(iss, "alice", "rf-"+strconv.Itoa(i))
		r = save(t, sts[0], s)
		for _, st := range sts {
			if _, err := st.Load(r); err != nil {
				t.Fatal(err)
			}
		}
		_, prev, err := sts[2].getRaw(context.Background(), s.ID)
		if err != nil {
			t.Fatal(err)
		}
		ns := *s
		ns.AccessToken = "REFRESHED-" + session.NewID()
		ns.RefreshedAt = time.Now()
		at = time.Now()
		if res, err := sts[2].replace(context.Background(), &ns, prev); err != nil || res != written {
			t.Fatalf("replace: %v, %v", res, err)
		}
		for _, j := range []int{0, 1} {
			for {
				got, err := sts[j].Load(r)
				if err == nil && got.AccessToken == ns.AccessToken {
					worst[2] = max(worst[2], time.Since(at))
					break
				}
				if time.Since(at) > time.Second {
					t.Fatalf("instance %d still serves the pre-refresh session %s after the refresh: %v", j+1, time.Since(at), err)
				}
				time.Sleep(2 * time.Millisecond)
			}
		}
	}
	t.Logf("worst delay over %d trials until every other instance saw it: logout %s, back-channel logout %s, refresh %s",
		trials, worst[0], worst[1], worst[2])
}

// TestNearCacheLinkCutStillWithinBound: with every subscriber connection
// killed (CLIENT KILL TYPE pubsub) right before a logout, whose
// invalidation is then lost, the other instances still refuse the session
// within 1 s (their lease ends), and the link comes back by itself.
func TestNearCacheLinkCutStillWithinBound(t *testing.T) {
	rs := startRedis(t)
	a, b := newNearStore(t, rs.addr()), newNearStore(t, rs.addr())
	waitCurrent(t, a)
	waitCurrent(t, b)
	admin := redis.NewClient(&redis.Options{Addr: rs.addr()})
	defer admin.Close()
	var worst time.Duration
	for i := range 5 {
		s := testSession("https://op.example", "alice", "cut-"+strconv.Itoa(i))
		r := save(t, a, s)
		if _, err := b.Load(r); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Load(r); err != nil || !b.NearCacheStats().Current {
			t.Fatalf("not served from the near-cache before the cut: %v %+v", err, b.NearCacheStats())
		}
		subsBefore := b.NearCacheStats().Subscriptions
		if n, err := admin.ClientKillByFilter(context.Background(), "TYPE", "pubsub").Result(); err != nil || n < 2 {
			t.Fatalf("CLIENT KILL TYPE pubsub: %d, %v", n, err)
		}
		at := time.Now()
		// Delete without the near-cache's own path and message, as if the
		// message had been published while b was not listening.
		if err := admin.Del(context.Background(), b.sessionKey(s.ID)).Err(); err != nil {
			t.Fatal(err)
		}
		worst = max(worst, refusedWithin(t, b, r, at, time.Second, "after the link was cut"))
		deadline := time.Now().Add(eventually)
		for b.NearCacheStats().Subscriptions == subsBefore || !b.NearCacheStats().Current {
			if time.Now().After(deadline) {
				t.Fatalf("the link did not come back within %s: %+v", eventually, b.NearCacheStats())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	t.Logf("worst delay after a cut link: %s (lease %s)", worst, DefaultNearCacheLease)
	// Back to memory after recovery.
	s := testSession("https://op.example", "alice", "after")
	r := save(t, a, s)
	_, _ = b.Load(r)
	hits := b.NearCacheStats().Hits
	if _, err := b.Load(r); err != nil || b.NearCacheStats().Hits != hits+1 {
		t.Errorf("after the link came back, the near-cache is not used: %v %+v", err, b.NearCacheStats())
	}
}

// TestNearCacheRedisRestart: while Redis is down the cached copies are not
// served (fallback closed: ErrUnavailable within the lease); after the
// restart the link recovers without a new Store, and the session lost with
// Redis's data is no session.
func TestNearCacheRedisRestart(t *testing.T) {
	rs := startRedis(t)
	a, b := newNearStore(t, rs.addr()), newNearStore(t, rs.addr())
	waitCurrent(t, b)
	s := testSession("https://op.example", "alice", "restart")
	r := save(t, a, s)
	_, _ = b.Load(r)
	rs.stop()
	at := time.Now()
	for {
		_, err := b.Load(r)
		if errors.Is(err, ErrUnavailable) {
			break
		}
		if err != nil || time.Since(at) > time.Second {
			t.Fatalf("Redis down for %s: %v, want ErrUnavailable within 1s", time.Since(at), err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("cached copies stopped %s after Redis died", time.Since(at).Round(time.Millisecond))
	rs.start()
	waitCurrent(t, b)
	deadline := time.Now().Add(eventually)
	for {
		_, err := b.Load(r)
		if errors.Is(err, session.ErrNoSession) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart: %v, want ErrNoSession (the data is gone)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s2 := testSession("https://op.example", "alice", "restart-2")
	r2 := save(t, a, s2)
	_, _ = b.Load(r2)
	hits := b.NearCacheStats().Hits
	if _, err := b.Load(r2); err != nil || b.NearCacheStats().Hits != hits+1 {
		t.Errorf("after recovery the near-cache is not used: %v %+v", err, b.NearCacheStats())
	}
}

// TestNearCacheIdleLinkStaysAndWakes: an idle instance stops its heartbeat
// but keeps its subscription (no reconnect loop), and its next use
// restores trust at once.
func TestNearCacheIdleLinkStaysAndWakes(t *testing.T) {
	rs := startRedis(t)
	b := newNearStore(t, rs.addr())
	waitCurrent(t, b)
	subs := b.inv.resubscribes.Load()
	time.Sleep(idleAfter + 3*time.Second)
	if got := b.inv.resubscribes.Load(); got != subs {
		t.Errorf("an idle link resubscribed %d times", got-subs)
	}
	if b.inv.trustedUntil.Load() > b.inv.mono() {
		t.Error("an idle instance still trusts its cache (no heartbeat for seconds)")
	}
	began := time.Now()
	waitCurrent(t, b)
	t.Logf("trust back %s after the first use", time.Since(began).Round(time.Millisecond))
}
