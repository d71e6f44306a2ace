package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/login"
	"github.com/edgeauth/caddy-edgeauth/module/session"
	"github.com/edgeauth/caddy-edgeauth/module/sts"
)

// gatedTokenEndpoint is a loopback token endpoint whose first refresh
// blocks until the test releases it, so that the test can make a logout or
// another refresh land while that refresh is in flight. The n-th request
// (counting from 1) is answered with at-n / rt-n, whatever refresh token it
// carried.
type gatedTokenEndpoint struct {
	srv     *httptest.Server
	n       atomic.Int32
	arrived chan int      // the number of each request, as it arrives
	release chan struct{} // closed by the test: the first request answers
}

func newGatedTokenEndpoint(t *testing.T) *gatedTokenEndpoint {
	te := &gatedTokenEndpoint{arrived: make(chan int, 16), release: make(chan struct{})}
	te.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(te.n.Add(1))
		te.arrived <- n
		if n == 1 {
			select {
			case <-te.release:
			case <-time.After(10 * time.Second):
			}
		}
		_ = r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		if r.PostForm.Get("grant_type") != "refresh_token" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"unsupported_grant_type"}`))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": "at-" + strconv.Itoa(n), "refresh_token": "rt-" + strconv.Itoa(n),
			"token_type": "Bearer", "expires_in": 3600,
		})
	}))
	t.Cleanup(func() {
		select {
		case <-te.release:
		default:
			close(te.release)
		}
		te.srv.Close()
	})
	return te
}

// waitArrival waits for the token endpoint to receive request n.
func (te *gatedTokenEndpoint) waitArrival(t *testing.T, n int) {
	t.Helper()
	select {
	case got := <-te.arrived:
		if got != n {
			t.Fatalf("token endpoint request %d arrived, want %d", got, n)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("token endpoint request %d never arrived", n)
	}
}

// newLockedInstance is one gateway with its own Redis client, store, flow
// and refresh lock (configured by lc).
func newLockedInstance(t *testing.T, addr, tokenURL string, lc RefreshLockConfig) *fleetInstance {
	t.Helper()
	st := newTestStore(t, newClient(t, addr))
	f, err := login.NewFlow(login.FlowConfig{
		ClientID: "client-1", Scopes: []string{"openid"}, Provider: &testProvider{tokenURL: tokenURL},
		IDTokens: noIDTokens{}, Store: st, Sealer: testSealer(t), RefreshCoordinator: NewRefreshLock(st, lc),
	})
	if err != nil {
		t.Fatal(err)
	}
	return &fleetInstance{store: st, flow: f}
}

type sessionResult struct {
	s   *session.Session
	err error
}

// refreshInBackground runs in.flow.Session for the cookie in a goroutine.
func refreshInBackground(in *fleetInstance, cookie *http.Request) chan sessionResult {
	done := make(chan sessionResult, 1)
	go func() {
		r := cookie.Clone(context.Background())
		s, err := in.flow.Session(r.Context(), httptest.NewRecorder(), r)
		done <- sessionResult{s, err}
	}()
	return done
}

func waitResult(t *testing.T, done chan sessionResult) sessionResult {
	t.Helper()
	select {
	case res := <-done:
		return res
	case <-time.After(10 * time.Second):
		t.Fatal("the in-flight refresh never finished")
	}
	return sessionResult{}
}

// assertGone checks that the cookie's session is gone on every instance and
// stays gone for later requests (which do not refresh it back either).
func assertGone(t *testing.T, cookie *http.Request, ins ...*fleetInstance) {
	t.Helper()
	for i, in := range ins {
		if s, err := in.store.Load(cookie.Clone(context.Background())); !errors.Is(err, session.ErrNoSession) {
			t.Errorf("instance %d: session after logout: %v (access token %q), %v; want ErrNoSession: the logout was undone", i, s != nil, accessToken(s), err)
		}
		r := cookie.Clone(context.Background())
		if _, err := in.flow.Session(r.Context(), httptest.NewRecorder(), r); !errors.Is(err, session.ErrNoSession) {
			t.Errorf("instance %d: a later request: %v, want ErrNoSession", i, err)
		}
	}
}

func accessToken(s *session.Session) string {
	if s == nil {
		return ""
	}
	return s.AccessToken
}

// A logout on instance b while instance a's refresh of the same session
// waits at the token endpoint: the refresh must not write the session back.
func TestFinding3LogoutDuringRefreshStaysLoggedOut(t *testing.T) {
	rs := startRedis(t)
	te := newGatedTokenEndpoint(t)
	a := newLockedInstance(t, rs.addr(), te.srv.URL, RefreshLockConfig{})
	b := newLockedInstance(t, rs.addr(), te.srv.URL, RefreshLockConfig{})
	cookie := save(t, a.store, nearExpirySession())

	done := refreshInBackground(a, cookie)
	te.waitArrival(t, 1) // a's refresh is in flight
	if err := b.store.Clear(httptest.NewRecorder(), cookie.Clone(context.Background())); err != nil {
		t.Fatalf("logout: %v", err)
	}
	close(te.release)
	res := waitResult(t, done)
	if !errors.Is(res.err, session.ErrNoSession) {
		t.Errorf("the in-flight request: session %v (access token %q), error %v; want ErrNoSession", res.s != nil, accessToken(res.s), res.err)
	}
	assertGone(t, cookie, a, b)
	if n := te.n.Load(); n != 1 {
		t.Errorf("token endpoint called %d times, want 1", n)
	}
}

// The same with back-channel logout (by sid and by sub): the session stays
// ended and the refresh does not put it back into the index either.
func TestFinding3BackChannelLogoutDuringRefreshStaysEnded(t *testing.T) {
	const iss = "https://op.example"
	for _, by := range []string{"sid", "sub"} {
		t.Run(by, func(t *testing.T) {
			rs := startRedis(t)
			te := newGatedTokenEndpoint(t)
			a := newLockedInstance(t, rs.addr(), te.srv.URL, RefreshLockConfig{})
			b := newLockedInstance(t, rs.addr(), te.srv.URL, RefreshLockConfig{})
			s := nearExpirySession()
			cookie := save(t, a.store, s)

			done := refreshInBackground(a, cookie)
			te.waitArrival(t, 1)
			sid, sub := "sid-1", ""
			if by == "sub" {
				sid, sub = "", "alice"
			}
			if n, err := b.store.End(context.Background(), iss, sid, sub); err != nil || n != 1 {
				t.Fatalf("End = %d, %v; want 1", n, err)
			}
			close(te.release)
			res := waitResult(t, done)
			if !errors.Is(res.err, session.ErrNoSession) {
				t.Errorf("the in-flight request: session %v (access token %q), error %v; want ErrNoSession", res.s != nil, accessToken(res.s), res.err)
			}
			assertGone(t, cookie, a, b)
			c := a.store.c
			member := sts.Key(s.ID)
			for _, idx := range []string{c.key("sid", iss, "sid-1"), c.key("sub", iss, "alice")} {
				members, err := c.rdb.SMembers(context.Background(), idx).Result()
				if err != nil {
					t.Fatal(err)
				}
				if slices.Contains(members, member) {
					t.Errorf("the ended session is back in the index %s", idx)
				}
			}
			// A second back-channel logout finds nothing left to end.
			if n, err := b.store.End(context.Background(), iss, sid, sub); err != nil || n != 0 {
				t.Errorf("second End = %d, %v; want 0", n, err)
			}
		})
	}
}

// Instance a's refresh outlives its lock; instance b then refreshes the
// session and stores at-2. When a's refresh finally answers (at-1), it must
// not overwrite b's newer session.
func TestFinding3StaleRefreshDoesNotOverwriteNewer(t *testing.T) {
	rs := startRedis(t)
	te := newGatedTokenEndpoint(t)
	lc := RefreshLockConfig{LockTTL: 200 * time.Millisecond}
	a := newLockedInstance(t, rs.addr(), te.srv.URL, lc)
	b := newLockedInstance(t, rs.addr(), te.srv.URL, lc)
	s := nearExpirySession()
	cookie := save(t, a.store, s)

	done := refreshInBackground(a, cookie)
	te.waitArrival(t, 1)
	lockKey := a.store.c.key("lock:refresh", s.ID)
	waitFor(t, 2*time.Second, "a's refresh lock to expire", func() bool {
		return a.store.c.rdb.Exists(context.Background(), lockKey).Val() == 0
	})
	r := cookie.Clone(context.Background())
	nb, err := b.flow.Session(r.Context(), httptest.NewRecorder(), r)
	if err != nil || nb.AccessToken != "at-2" {
		t.Fatalf("b's refresh: %q, %v; want at-2", accessToken(nb), err)
	}
	close(te.release)
	res := waitResult(t, done)
	if res.err != nil || res.s.AccessToken != "at-2" {
		t.Errorf("a's late refresh returned %q, %v; want b's stored at-2", accessToken(res.s), res.err)
	}
	for i, in := range []*fleetInstance{a, b} {
		got, err := in.store.Load(cookie.Clone(context.Background()))
		if err != nil || got.AccessToken != "at-2" || got.RefreshToken != "rt-2" {
			t.Errorf("instance %d: stored session %q, %v; want b's at-2/rt-2 (a stale refresh overwrote it)", i, accessToken(got), err)
		}
	}
}

// A holder whose lock expired (and was taken by another) releases nothing
// when it finally unlocks: the other holder keeps the lock.
func TestFleetLockExpiredHolderDoesNotReleaseAnother(t *testing.T) {
	rs := startRedis(t)
	c := newClient(t, rs.addr())
	ctx := context.Background()
	key := c.key("lock:refresh", "some-session")
	releaseA, ok, err := c.tryLock(ctx, key, 100*time.Millisecond)
	if err != nil || !ok {
		t.Fatalf("a: tryLock %v, %v", ok, err)
	}
	waitFor(t, 2*time.Second, "a's lock to expire", func() bool { return c.rdb.Exists(ctx, key).Val() == 0 })
	releaseB, ok, err := c.tryLock(ctx, key, 10*time.Second)
	if err != nil || !ok {
		t.Fatalf("b: tryLock %v, %v", ok, err)
	}
	defer releaseB()
	releaseA() // late: must not delete b's lock
	if _, ok, err := c.tryLock(ctx, key, 10*time.Second); err != nil || ok {
		t.Fatalf("a third holder took the lock (%v, %v): a's late release deleted b's lock", ok, err)
	}
	releaseB()
	if _, ok, _ := c.tryLock(ctx, key, time.Second); !ok {
		t.Fatal("b's release did not free the lock")
	}
}

// An instance whose exchange finished late (its lock had expired) must not
// replace the newer credentials another instance published meanwhile.
func TestFinding3StaleSTSWriteDoesNotReplaceNewer(t *testing.T) {
	rs := startRedis(t)
	_, sh := newSharedCache(t, rs.addr())
	ctx := context.Background()
	key := sts.Key("acs:ram::1:role/app", "https://op.example", "alice")
	now := time.Now()
	newer := &sts.Credentials{AccessKeyID: "STS.NEWER", AccessKeySecret: "S1", SecurityToken: "T1", Expiration: now.Add(time.Hour)}
	older := &sts.Credentials{AccessKeyID: "STS.OLDER", AccessKeySecret: "S0", SecurityToken: "T0", Expiration: now.Add(20 * time.Minute)}
	if err := sh.Set(ctx, key, newer, now.Add(57*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := sh.Set(ctx, key, older, now.Add(17*time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, until, err := sh.Get(ctx, key)
	if err != nil || got == nil || got.AccessKeyID != "STS.NEWER" {
		t.Fatalf("shared credentials after a stale write: %v, %v; want STS.NEWER", got, err)
	}
	if until.Before(now.Add(56 * time.Minute)) {
		t.Errorf("valid until %v, want about 57m from now", until)
	}
	// Newer credentials do replace older ones.
	newest := &sts.Credentials{AccessKeyID: "STS.NEWEST", Expiration: now.Add(2 * time.Hour)}
	if err := sh.Set(ctx, key, newest, now.Add(117*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := sh.Get(ctx, key); got == nil || got.AccessKeyID != "STS.NEWEST" {
		t.Fatalf("newer credentials not stored: %v", got)
	}
}

// Save of a refreshed session never brings back a session that logout or
// back-channel logout ended, and a new login never overwrites a stored
// session.
func TestFinding3SaveNeverResurrects(t *testing.T) {
	rs := startRedis(t)
	st := newTestStore(t, newClient(t, rs.addr()))
	ctx := context.Background()
	req := func() *http.Request { return httptest.NewRequest("GET", "http://app.example.com/", nil) }
	refreshed := func(s *session.Session) *session.Session {
		ns := s.Clone()
		ns.AccessToken, ns.RefreshToken, ns.RefreshedAt = "at-new", "rt-new", time.Now()
		return ns
	}
	for _, how := range []string{"logout", "back-channel logout"} {
		s := testSession("https://op.example", "alice", "sid-"+how)
		cookie := save(t, st, s)
		if how == "logout" {
			if err := st.Clear(httptest.NewRecorder(), cookie); err != nil {
				t.Fatal(err)
			}
		} else if n, err := st.End(ctx, "https://op.example", "sid-"+how, ""); err != nil || n != 1 {
			t.Fatalf("End = %d, %v", n, err)
		}
		rec := httptest.NewRecorder()
		if err := st.Save(rec, req(), refreshed(s)); !errors.Is(err, session.ErrNoSession) {
			t.Errorf("after %s: Save of the refreshed session: %v, want an ErrNoSession error", how, err)
		}
		if c := rec.Result().Cookies(); len(c) != 0 {
			t.Errorf("after %s: Save wrote cookies %v", how, c)
		}
		if got, err := st.Load(cookie); !errors.Is(err, session.ErrNoSession) {
			t.Errorf("after %s: the session is back (access token %q), %v", how, accessToken(got), err)
		}
	}
	// A new login (RefreshedAt zero) with an ID already stored is refused.
	s := testSession("https://op.example", "alice", "sid-1")
	cookie := save(t, st, s)
	other := s.Clone()
	other.AccessToken = "at-other"
	if err := st.Save(httptest.NewRecorder(), req(), other); err == nil {
		t.Error("a new login overwrote a stored session")
	}
	if got, err := st.Load(cookie); err != nil || got.AccessToken != s.AccessToken {
		t.Errorf("stored session after a refused overwrite: %q, %v", accessToken(got), err)
	}
}

// A back-channel logout that runs after a login indexed its new session but
// before it stored it: the login must fail rather than store a session the
// logout meant to end, and the index holds nothing for it.
func TestFinding3BackChannelLogoutBetweenIndexAndLoginWrite(t *testing.T) {
	rs := startRedis(t)
	st := newTestStore(t, newClient(t, rs.addr()))
	ctx := context.Background()
	const iss = "https://op.example"
	s := testSession(iss, "alice", "sid-1")
	var endedCount int
	st.beforeWrite = func() {
		n, err := st.End(ctx, iss, "sid-1", "")
		if err != nil {
			t.Errorf("End: %v", err)
		}
		endedCount = n
	}
	rec := httptest.NewRecorder()
	err := st.Save(rec, httptest.NewRequest("GET", "http://app.example.com/", nil), s)
	if !errors.Is(err, session.ErrNoSession) || !errors.Is(err, ErrSessionEnded) {
		t.Fatalf("Save of a login ended meanwhile: %v, want ErrSessionEnded", err)
	}
	if endedCount != 0 {
		t.Errorf("End counted %d sessions; the session was not stored yet", endedCount)
	}
	if len(rec.Result().Cookies()) != 0 {
		t.Error("a cookie was written for an ended login")
	}
	st.beforeWrite = nil
	if _, err := st.get(ctx, s.ID); !errors.Is(err, session.ErrNoSession) {
		t.Fatalf("the ended login's session is stored: %v", err)
	}
	for _, idx := range []string{st.c.key("sid", iss, "sid-1"), st.c.key("sub", iss, "alice")} {
		if slices.Contains(st.c.rdb.SMembers(ctx, idx).Val(), sts.Key(s.ID)) {
			t.Errorf("index %s still holds the ended login", idx)
		}
	}
	// The same in a refresh write-back: ended, nothing stored.
	s2 := testSession(iss, "alice", "sid-2")
	save(t, st, s2)
	_, prev, err := st.getRaw(ctx, s2.ID)
	if err != nil {
		t.Fatal(err)
	}
	st.beforeWrite = func() { _, _ = st.End(ctx, iss, "", "alice") }
	ns := s2.Clone()
	ns.AccessToken, ns.RefreshedAt = "at-new", time.Now()
	if res, err := st.replace(ctx, ns, prev); err != nil || res != ended {
		t.Fatalf("replace after back-channel logout: %v, %v; want ended", res, err)
	}
	if _, err := st.get(ctx, s2.ID); !errors.Is(err, session.ErrNoSession) {
		t.Fatalf("refreshed session stored after back-channel logout: %v", err)
	}
}

// A back-channel logout request that failed forgets only its own jti
// record, never one another request made.
func TestBackChannelForgetsOnlyItsOwnJTI(t *testing.T) {
	rs := startRedis(t)
	st := newTestStore(t, newClient(t, rs.addr()))
	sg := newSigner(t, "k1")
	bc, err := NewBackChannel(st, BackChannelConfig{Verifier: sg.verifier()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	lt, err := bc.VerifyLogoutToken(ctx, sg.sign(t, logoutClaims()), sg.verifier())
	if err != nil {
		t.Fatal(err)
	}
	stranger := *lt
	stranger.mark = "another request's mark"
	bc.forgetJTI(ctx, &stranger)
	key := st.c.key("jti", lt.Issuer, lt.ID)
	if st.c.rdb.Exists(ctx, key).Val() != 1 {
		t.Fatal("a request forgot a jti record it did not make")
	}
	bc.forgetJTI(ctx, lt)
	if st.c.rdb.Exists(ctx, key).Val() != 0 {
		t.Fatal("a request could not forget its own jti record")
	}
}

// afterRefresh runs a hook once the real RefreshLock has written the
// refreshed session back, before the flow saves it (test only).
type afterRefresh struct {
	inner *RefreshLock
	after func()
}

func (a afterRefresh) Refresh(ctx context.Context, cur *session.Session, do func(ctx context.Context) (*session.Session, error)) (*session.Session, error) {
	ns, err := a.inner.Refresh(ctx, cur, do)
	a.after()
	return ns, err
}

// A logout that lands after the refresh was written back but before the
// flow saves the refreshed session: the request is logged out and the
// session stays gone.
func TestFinding3LogoutBetweenWriteBackAndSave(t *testing.T) {
	rs := startRedis(t)
	te := newGatedTokenEndpoint(t)
	close(te.release)
	b := newLockedInstance(t, rs.addr(), te.srv.URL, RefreshLockConfig{})
	st := newTestStore(t, newClient(t, rs.addr()))
	cookie := save(t, st, nearExpirySession())
	f, err := login.NewFlow(login.FlowConfig{
		ClientID: "client-1", Scopes: []string{"openid"}, Provider: &testProvider{tokenURL: te.srv.URL},
		IDTokens: noIDTokens{}, Store: st, Sealer: testSealer(t),
		RefreshCoordinator: afterRefresh{inner: NewRefreshLock(st, RefreshLockConfig{}), after: func() {
			if err := b.store.Clear(httptest.NewRecorder(), cookie.Clone(context.Background())); err != nil {
				t.Errorf("logout: %v", err)
			}
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	a := &fleetInstance{store: st, flow: f}
	res := waitResult(t, refreshInBackground(a, cookie))
	if !errors.Is(res.err, session.ErrNoSession) {
		t.Errorf("request whose session was logged out during its refresh: %q, %v; want ErrNoSession", accessToken(res.s), res.err)
	}
	a.flow = b.flow // the hook would log out again; later requests use a plain flow
	assertGone(t, cookie, a, b)
}

// A back-channel logout that arrives before a login in flight (its ID
// token already issued) has indexed its session: the login must not store
// a session of the ended sid, nor one of the logged-out subject issued
// before the logout. A login issued after a logout by subject works.
func TestFinding3BackChannelLogoutBeforeLoginIndexed(t *testing.T) {
	rs := startRedis(t)
	st := newTestStore(t, newClient(t, rs.addr()))
	ctx := context.Background()
	const iss = "https://op.example"
	req := httptest.NewRequest("GET", "http://app.example.com/", nil)
	logoutAt := time.Now().Truncate(time.Second)
	withIat := func(s *session.Session, iat time.Time) *session.Session {
		c := maps.Clone(s.Claims)
		c["iat"] = json.Number(strconv.FormatInt(iat.Unix(), 10))
		s.Claims = c
		return s
	}

	if n, err := st.EndIssuedBefore(ctx, iss, "sid-1", "", logoutAt); err != nil || n != 0 {
		t.Fatalf("End(sid) = %d, %v", n, err)
	}
	if err := st.Save(httptest.NewRecorder(), req, withIat(testSession(iss, "alice", "sid-1"), logoutAt.Add(-2*time.Second))); !errors.Is(err, ErrSessionEnded) {
		t.Errorf("login with an ended sid: %v, want ErrSessionEnded", err)
	}

	if n, err := st.EndIssuedBefore(ctx, iss, "", "bob", logoutAt); err != nil || n != 0 {
		t.Fatalf("End(sub) = %d, %v", n, err)
	}
	early := withIat(testSession(iss, "bob", "sid-2"), logoutAt.Add(-2*time.Second))
	if err := st.Save(httptest.NewRecorder(), req, early); !errors.Is(err, ErrSessionEnded) {
		t.Errorf("login of a logged-out subject issued before the logout: %v, want ErrSessionEnded", err)
	}
	if _, err := st.get(ctx, early.ID); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("the refused login is stored: %v", err)
	}
	later := withIat(testSession(iss, "bob", "sid-3"), logoutAt.Add(5*time.Second))
	cookie := save(t, st, later)
	if _, err := st.Load(cookie); err != nil {
		t.Errorf("a login after the logout by subject: %v", err)
	}

	// Without iat, the login time counts.
	noIat := testSession(iss, "bob", "")
	delete(noIat.Claims, "iat")
	noIat.CreatedAt = logoutAt.Add(-time.Minute)
	if err := st.Save(httptest.NewRecorder(), req, noIat); !errors.Is(err, ErrSessionEnded) {
		t.Errorf("session without iat created before the logout by subject: %v, want ErrSessionEnded", err)
	}
	noIat = testSession(iss, "bob", "")
	delete(noIat.Claims, "iat")
	noIat.CreatedAt = logoutAt.Add(time.Minute)
	if err := st.Save(httptest.NewRecorder(), req, noIat); err != nil {
		t.Errorf("session without iat created after the logout by subject: %v", err)
	}

	// A refresh whose new ID token names an ended sid ends the session.
	s := withIat(testSession(iss, "carol", "sid-4"), logoutAt.Add(5*time.Second))
	cookie = save(t, st, s)
	if _, err := st.EndIssuedBefore(ctx, iss, "sid-5", "", logoutAt); err != nil {
		t.Fatal(err)
	}
	_, prev, err := st.getRaw(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	ns := s.Clone()
	ns.Claims = maps.Clone(s.Claims)
	ns.Claims["sid"] = "sid-5"
	ns.AccessToken, ns.RefreshedAt = "at-new", time.Now()
	if res, err := st.replace(ctx, ns, prev); err != nil || res != ended {
		t.Fatalf("refresh into an ended sid: %v, %v; want ended", res, err)
	}
	if _, err := st.Load(cookie); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("the session whose refresh named an ended sid is still alive: %v", err)
	}
}
