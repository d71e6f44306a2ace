package fleet

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/internal/redistest"
	"github.com/edgeauth/caddy-edgeauth/module/session"
	"github.com/edgeauth/caddy-edgeauth/module/sts"
)

// The fleet on a real Redis Cluster of three masters (redistest.StartCluster:
// redis-cli --cluster create): every flow whose keys spread over the slots
// of different masters. Each subtest has its own key prefix, so that marks
// left by one back-channel logout do not reach into another subtest.

// clusterClient is a cluster client with this key prefix. seedOne gives it
// only the first node's address (it must discover the others).
func clusterClient(t *testing.T, cl *redistest.Cluster, prefix string, seedOne bool) *Client {
	t.Helper()
	addrs := cl.Addrs()
	if seedOne {
		addrs = addrs[:1]
	}
	return newClient(t, addrs[0], func(c *Config) {
		c.Addrs, c.Cluster, c.KeyPrefix = addrs, true, prefix
	})
}

// mastersOf maps each key to the master serving it and fails t on error.
func mastersOf(t *testing.T, cl *redistest.Cluster, keys []string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, k := range keys {
		m, err := cl.MasterOf(k)
		if err != nil {
			t.Fatal(err)
		}
		out[m]++
	}
	return out
}

func TestCluster(t *testing.T) {
	began := time.Now()
	cl := redistest.StartCluster(t)
	t.Logf("three-master cluster ready in %s", time.Since(began).Round(time.Millisecond))
	t.Run("SessionsAcrossMasters", func(t *testing.T) { testClusterSessions(t, cl) })
	t.Run("RefreshOncePerFleet", func(t *testing.T) { testClusterRefresh(t, cl) })
	t.Run("Locks", func(t *testing.T) { testClusterLocks(t, cl) })
	t.Run("BackChannelLogoutBySidAndSub", func(t *testing.T) { testClusterBackChannel(t, cl) })
	t.Run("BackChannelLogoutBetweenIndexAndWrite", func(t *testing.T) { testClusterLogoutRace(t, cl) })
	t.Run("SharedSTS", func(t *testing.T) { testClusterSTS(t, cl) })
	t.Run("AskAndMovedRedirections", func(t *testing.T) { testClusterRedirections(t, cl) })
	t.Run("KeyStore", func(t *testing.T) { testClusterKeyStore(t, cl) })
	t.Logf("cluster tests took %s", time.Since(began).Round(time.Millisecond))
}

// Sixty sessions land on all three masters; each is read by another
// instance (seeded with one node only), and a logout on that instance ends
// exactly the sessions it logged out, for the first instance too.
func testClusterSessions(t *testing.T, cl *redistest.Cluster) {
	a := newTestStore(t, clusterClient(t, cl, "cl-sess:", false))
	b := newTestStore(t, clusterClient(t, cl, "cl-sess:", true))
	const n = 60
	var sessions []*session.Session
	var cookies []*http.Request
	var keys []string
	for i := range n {
		s := testSession(testIssuer, fmt.Sprintf("user-%d", i), fmt.Sprintf("sid-%d", i))
		sessions = append(sessions, s)
		cookies = append(cookies, save(t, a, s))
		keys = append(keys, a.sessionKey(s.ID))
	}
	if m := mastersOf(t, cl, keys); len(m) != 3 {
		t.Fatalf("%d session keys landed on %d masters, want all 3: %v", n, len(m), m)
	}
	for i, r := range cookies {
		got, err := b.Load(r)
		if err != nil || got.AccessToken != sessions[i].AccessToken || got.Subject != sessions[i].Subject {
			t.Fatalf("instance b, session %d: %v, %v", i, got, err)
		}
	}
	for i := 0; i < n; i += 2 {
		if err := b.Clear(httptest.NewRecorder(), cookies[i]); err != nil {
			t.Fatalf("logout of session %d on instance b: %v", i, err)
		}
	}
	for i, r := range cookies {
		got, err := a.Load(r)
		switch {
		case i%2 == 0 && !errors.Is(err, session.ErrNoSession):
			t.Errorf("instance a, session %d after logout on b: %v, %v; want no session", i, got, err)
		case i%2 == 1 && (err != nil || got.Subject != sessions[i].Subject):
			t.Errorf("instance a, session %d (not logged out): %v, %v", i, got, err)
		}
	}
}

// Thirty concurrent requests over three instances within the refresh
// margin: one refresh (the lock and the session are in different slots),
// every instance then reads the refreshed session, no lock is left.
func testClusterRefresh(t *testing.T, cl *redistest.Cluster) {
	te := newTokenEndpoint(t)
	var fleet []*fleetInstance
	for i := range 3 {
		fleet = append(fleet, newFleetInstanceOn(t, clusterClient(t, cl, "cl-refresh:", i == 2), te.srv.URL, true))
	}
	s := nearExpirySession()
	cookie := save(t, fleet[0].store, s)
	c := fleet[0].store.c
	t.Logf("session on %v, its refresh lock on %v", mastersOf(t, cl, []string{fleet[0].store.sessionKey(s.ID)}), mastersOf(t, cl, []string{c.key("lock:refresh", s.ID)}))

	refreshTogether(t, fleet, cookie, te)
	for i, in := range fleet {
		sess, err := in.store.Load(cookie)
		if err != nil || sess.AccessToken != "at-1" || sess.RefreshToken != "rt-1" {
			t.Errorf("instance %d after the refresh: %v, %v", i, sess, err)
		}
	}
	left, err := cl.Keys("cl-refresh:lock:*")
	if err != nil {
		t.Fatal(err)
	}
	for node, ks := range left {
		if len(ks) != 0 {
			t.Errorf("refresh locks left behind on %s: %v", node, ks)
		}
	}
}

// Locks of twelve sessions (on all masters): one holder at a time across
// two instances, release frees, and a holder whose lock expired does not
// release the next holder's.
func testClusterLocks(t *testing.T, cl *redistest.Cluster) {
	a := clusterClient(t, cl, "cl-lock:", false)
	b := clusterClient(t, cl, "cl-lock:", true)
	ctx := context.Background()
	var keys []string
	for i := range 12 {
		keys = append(keys, a.key("lock:refresh", fmt.Sprintf("session-%d", i)))
	}
	if m := mastersOf(t, cl, keys); len(m) < 2 {
		t.Fatalf("12 lock keys on %d master(s), want them spread: %v", len(m), m)
	}
	for _, k := range keys {
		release, ok, err := a.tryLock(ctx, k, 10*time.Second)
		if err != nil || !ok {
			t.Fatalf("a: tryLock(%s): %v, %v", k, ok, err)
		}
		if _, ok, err := b.tryLock(ctx, k, 10*time.Second); err != nil || ok {
			t.Fatalf("b took %s while a held it (%v, %v)", k, ok, err)
		}
		release()
		releaseB, ok, err := b.tryLock(ctx, k, 10*time.Second)
		if err != nil || !ok {
			t.Fatalf("b: tryLock(%s) after a released: %v, %v", k, ok, err)
		}
		releaseB()
	}
	k := keys[0]
	releaseA, ok, err := a.tryLock(ctx, k, 100*time.Millisecond)
	if err != nil || !ok {
		t.Fatalf("a: %v, %v", ok, err)
	}
	waitFor(t, 2*time.Second, "a's lock to expire", func() bool { return a.rdb.Exists(ctx, k).Val() == 0 })
	releaseB, ok, err := b.tryLock(ctx, k, 10*time.Second)
	if err != nil || !ok {
		t.Fatalf("b: %v, %v", ok, err)
	}
	defer releaseB()
	releaseA()
	if _, ok, err := a.tryLock(ctx, k, 10*time.Second); err != nil || ok {
		t.Fatalf("a late release deleted b's lock (%v, %v)", ok, err)
	}
}

// A back-channel logout posted to one instance ends every session of the
// sid, which are spread over several masters, then (sub only) every other
// session of the subject; other subjects stay; a replay is refused.
func testClusterBackChannel(t *testing.T, cl *redistest.Cluster) {
	a := newTestStore(t, clusterClient(t, cl, "cl-bc:", false))
	b := newTestStore(t, clusterClient(t, cl, "cl-bc:", true))
	sg := newSigner(t, "k1")
	bc, err := NewBackChannel(a, BackChannelConfig{Verifier: sg.verifier()})
	if err != nil {
		t.Fatal(err)
	}
	var sid1, sid2, bob []*http.Request
	var sid1Keys []string
	for range 16 {
		s := testSession(testIssuer, "alice", "sid-1")
		sid1 = append(sid1, save(t, b, s))
		sid1Keys = append(sid1Keys, b.sessionKey(s.ID))
	}
	for range 4 {
		sid2 = append(sid2, save(t, b, testSession(testIssuer, "alice", "sid-2")))
	}
	for range 3 {
		bob = append(bob, save(t, b, testSession(testIssuer, "bob", "sid-3")))
	}
	if m := mastersOf(t, cl, sid1Keys); len(m) < 2 {
		t.Fatalf("the 16 sessions of sid-1 are on %d master(s), want several: %v", len(m), m)
	}
	idx := mastersOf(t, cl, []string{a.c.key("sid", testIssuer, "sid-1"), a.c.key("sub", testIssuer, "alice"), a.markKey("sid", testIssuer, "sid-1")})
	t.Logf("sid-1 sessions on %v; its index, the sub index and the mark on %v", mastersOf(t, cl, sid1Keys), idx)
	alive := func(r *http.Request) bool {
		_, err := b.Load(r)
		if err != nil && !errors.Is(err, session.ErrNoSession) {
			t.Fatalf("Load: %v", err)
		}
		return err == nil
	}
	count := func(rs []*http.Request) (n int) {
		for _, r := range rs {
			if alive(r) {
				n++
			}
		}
		return n
	}
	tok := sg.sign(t, logoutClaims()) // sid-1, sub alice
	if rec := postLogout(bc, url.Values{"logout_token": {tok}}); rec.Code != http.StatusOK {
		t.Fatalf("logout by sid: %d %s", rec.Code, rec.Body)
	}
	if n1, n2, nb := count(sid1), count(sid2), count(bob); n1 != 0 || n2 != 4 || nb != 3 {
		t.Fatalf("after the logout of sid-1: alive sid-1 %d/16 (want 0), sid-2 %d/4 (want 4), bob %d/3 (want 3)", n1, n2, nb)
	}
	assertInvalidRequest(t, "replay", postLogout(bc, url.Values{"logout_token": {tok}}))
	c := logoutClaims()
	delete(c, "sid")
	if rec := postLogout(bc, url.Values{"logout_token": {sg.sign(t, c)}}); rec.Code != http.StatusOK {
		t.Fatalf("logout by sub: %d %s", rec.Code, rec.Body)
	}
	if n2, nb := count(sid2), count(bob); n2 != 0 || nb != 3 {
		t.Fatalf("after the logout of sub alice: alive sid-2 %d/4 (want 0), bob %d/3 (want 3)", n2, nb)
	}
	// A login of alice with an ID token issued before the logout token,
	// made on another instance after it, is refused by the sub's mark.
	late := testSession(testIssuer, "alice", "sid-4")
	if err := b.Save(httptest.NewRecorder(), httptest.NewRequest("GET", "http://app.example.com/", nil), late); !errors.Is(err, ErrSessionEnded) {
		t.Fatalf("login with an ID token older than the sub's logout: %v, want ErrSessionEnded", err)
	}
}

// A back-channel logout that runs after a login indexed its session and
// before it stored it (mark, index and session in three slots): the login
// stores nothing.
func testClusterLogoutRace(t *testing.T, cl *redistest.Cluster) {
	st := newTestStore(t, clusterClient(t, cl, "cl-race:", false))
	ctx := context.Background()
	slot := func(k string) int {
		n, err := cl.Slot(k)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	idx, mark := slot(st.c.key("sid", testIssuer, "sid-1")), slot(st.markKey("sid", testIssuer, "sid-1"))
	if idx == mark {
		t.Fatalf("the sid index and its mark share slot %d: this test is about keys in different slots", idx)
	}
	s := testSession(testIssuer, "alice", "sid-1")
	for n := slot(st.sessionKey(s.ID)); n == idx || n == mark; n = slot(st.sessionKey(s.ID)) {
		s = testSession(testIssuer, "alice", "sid-1") // a session ID whose key is in a third slot
	}
	st.beforeWrite = func() {
		if _, err := st.End(ctx, testIssuer, "sid-1", ""); err != nil {
			t.Errorf("End: %v", err)
		}
	}
	err := st.Save(httptest.NewRecorder(), httptest.NewRequest("GET", "http://app.example.com/", nil), s)
	if !errors.Is(err, ErrSessionEnded) {
		t.Fatalf("Save of a login ended meanwhile: %v, want ErrSessionEnded", err)
	}
	st.beforeWrite = nil
	if _, err := st.get(ctx, s.ID); !errors.Is(err, session.ErrNoSession) {
		t.Fatalf("the ended login's session is stored: %v", err)
	}
}

// Fifty concurrent requests over three instances (credential keys on
// several masters): one exchange per key.
func testClusterSTS(t *testing.T, cl *redistest.Cluster) {
	var caches []*sts.Cache
	for i := range 3 {
		c, _ := newSharedCacheOn(t, clusterClient(t, cl, "cl-sts:", i == 1))
		caches = append(caches, c)
	}
	ex := &exchanger{delay: 100 * time.Millisecond}
	const ids = 6
	var keys, rkeys []string
	for i := range ids {
		k := sts.Key("acs:ram::1:role/app", testIssuer, fmt.Sprintf("user-%d", i))
		keys, rkeys = append(keys, k), append(rkeys, "cl-sts:sts:"+sts.Key(k))
	}
	on := mastersOf(t, cl, rkeys)
	if len(on) < 2 {
		t.Fatalf("the credentials of %d identities are all on one master: %v", ids, on)
	}
	sourceExpiry := time.Now().Add(2 * time.Hour)
	const n = 60
	got := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			cr, err := caches[i%3].Get(context.Background(), keys[i%ids], sourceExpiry, ex.fetch)
			errs[i] = err
			if cr != nil {
				got[i] = cr.AccessKeyID
			}
		}()
	}
	close(start)
	wg.Wait()
	if x := ex.n.Load(); x != ids {
		t.Fatalf("%d exchanges for %d concurrent requests of %d identities over 3 instances, want exactly %d", x, n, ids, ids)
	}
	perKey := map[string]map[string]bool{}
	for i := range n {
		if errs[i] != nil || got[i] == "" {
			t.Fatalf("request %d: %q, %v", i, got[i], errs[i])
		}
		if perKey[keys[i%ids]] == nil {
			perKey[keys[i%ids]] = map[string]bool{}
		}
		perKey[keys[i%ids]][got[i]] = true
	}
	for k, got := range perKey {
		if len(got) != 1 {
			t.Errorf("identity %s got several credentials across the fleet: %v", k[:8], got)
		}
	}
	for _, k := range rkeys {
		m, _ := cl.MasterOf(k)
		if on, err := cl.Has(m, k); !on {
			t.Errorf("credentials %s are not stored on %s: %v", k, m, err)
		}
	}
}

// A session's slot migrates to another master while the fleet uses it: a
// read and a conditional refresh write while the key has moved but the
// slot has not (the old master answers ASK), then a read and a
// back-channel logout through clients whose slot map is stale (MOVED).
func testClusterRedirections(t *testing.T, cl *redistest.Cluster) {
	a := newTestStore(t, clusterClient(t, cl, "cl-move:", false))
	b := newTestStore(t, clusterClient(t, cl, "cl-move:", true))
	ctx := context.Background()
	s := testSession(testIssuer, "alice", "sid-1")
	cookie := save(t, a, s)
	if _, err := b.Load(cookie); err != nil { // b's slot map is now loaded
		t.Fatal(err)
	}
	key := a.sessionKey(s.ID)
	slot, err := cl.Slot(key)
	if err != nil {
		t.Fatal(err)
	}
	m := cl.BeginMigration(t, slot)
	if moved := m.MoveKeys(); moved < 1 {
		t.Fatalf("slot %d: no key moved", slot)
	}
	if on, _ := cl.Has(m.To, key); !on {
		t.Fatalf("the session is not on %s after MIGRATE", m.To)
	}
	if on, _ := cl.Has(m.From, key); on {
		t.Fatalf("the session is still on %s after MIGRATE", m.From)
	}
	// ASK: the owner of the slot no longer has the key.
	got, prev, err := b.getRaw(ctx, s.ID)
	if err != nil || got.AccessToken != s.AccessToken {
		t.Fatalf("read during the migration (ASK): %v, %v", got, err)
	}
	ns := got.Clone()
	ns.AccessToken, ns.RefreshedAt = "at-after-ask", time.Now()
	if res, err := b.replace(ctx, ns, prev); err != nil || res != written {
		t.Fatalf("conditional refresh write during the migration (ASK): %v, %v", res, err)
	}
	if got, err := a.Load(cookie); err != nil || got.AccessToken != "at-after-ask" {
		t.Fatalf("read of the refreshed session during the migration (ASK): %v, %v", got, err)
	}
	m.Finish()
	// MOVED: both clients still map the slot to the old master.
	if got, err := b.Load(cookie); err != nil || got.AccessToken != "at-after-ask" {
		t.Fatalf("read after the migration (MOVED): %v, %v", got, err)
	}
	if n, err := a.End(ctx, testIssuer, "sid-1", ""); err != nil || n != 1 {
		t.Fatalf("back-channel logout after the migration (MOVED): %d, %v; want 1", n, err)
	}
	if _, err := b.Load(cookie); !errors.Is(err, session.ErrNoSession) {
		t.Fatalf("after the logout: %v, want no session", err)
	}
	if on, _ := cl.Has(m.To, key); !on {
		t.Fatalf("the tombstone is not on the new master %s", m.To)
	}
}
