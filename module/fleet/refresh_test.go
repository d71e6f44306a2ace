package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/identity"
	"github.com/edgeauth/caddy-edgeauth/module/login"
	"github.com/edgeauth/caddy-edgeauth/module/oidc"
	"github.com/edgeauth/caddy-edgeauth/module/session"
)

// tokenEndpoint is a loopback token endpoint that rotates refresh tokens:
// only the latest one is accepted, so two refreshes with the same token
// make the second fail (as at real providers).
type tokenEndpoint struct {
	srv   *httptest.Server
	mu    sync.Mutex
	gen   int
	calls atomic.Int32
	delay time.Duration
}

func newTokenEndpoint(t *testing.T) *tokenEndpoint {
	te := &tokenEndpoint{delay: 100 * time.Millisecond}
	te.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		te.calls.Add(1)
		time.Sleep(te.delay) // let concurrent callers pile up
		_ = r.ParseForm()
		te.mu.Lock()
		defer te.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.PostForm.Get("grant_type") != "refresh_token" || r.PostForm.Get("refresh_token") != "rt-"+strconv.Itoa(te.gen) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		te.gen++
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": "at-" + strconv.Itoa(te.gen), "refresh_token": "rt-" + strconv.Itoa(te.gen),
			"token_type": "Bearer", "expires_in": 3600,
		})
	}))
	t.Cleanup(te.srv.Close)
	return te
}

type testProvider struct{ tokenURL string }

func (p *testProvider) Name() string { return "op" }
func (p *testProvider) Metadata() (*oidc.Metadata, bool) {
	return &oidc.Metadata{Issuer: "https://op.example", TokenEndpoint: p.tokenURL}, true
}
func (p *testProvider) HTTPClient() *http.Client { return &http.Client{Timeout: 5 * time.Second} }

// noIDTokens refuses every ID token; the refresh responses here carry none.
type noIDTokens struct{}

func (noIDTokens) Verify(context.Context, string) (*identity.Identity, error) {
	return nil, errors.New("no ID token expected in this test")
}

// fleetInstance is one gateway: its own Redis client, store and flow.
type fleetInstance struct {
	store *Store
	flow  *login.Flow
}

func newFleetInstance(t *testing.T, addr, tokenURL string, coordinated bool) *fleetInstance {
	return newFleetInstanceOn(t, newClient(t, addr), tokenURL, coordinated)
}

// newFleetInstanceOn is newFleetInstance on a given client (e.g. a cluster).
func newFleetInstanceOn(t *testing.T, c *Client, tokenURL string, coordinated bool) *fleetInstance {
	st := newTestStore(t, c)
	cfg := login.FlowConfig{
		ClientID: "client-1", Scopes: []string{"openid"}, Provider: &testProvider{tokenURL: tokenURL},
		IDTokens: noIDTokens{}, Store: st, Sealer: testSealer(t),
	}
	if coordinated {
		cfg.RefreshCoordinator = NewRefreshLock(st, RefreshLockConfig{})
	}
	f, err := login.NewFlow(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &fleetInstance{store: st, flow: f}
}

func nearExpirySession() *session.Session {
	s := testSession("https://op.example", "alice", "sid-1")
	s.AccessToken, s.RefreshToken = "at-0", "rt-0"
	// Tokens of an hour that expire in 30 s: inside the 60 s refresh margin.
	s.CreatedAt = time.Now().Add(-time.Hour + 30*time.Second)
	s.Expiry = time.Now().Add(30 * time.Second)
	return s
}

// refreshTogether sends thirty concurrent requests of the session in cookie,
// spread over the three instances of fleet, all within the refresh margin:
// every one gets the refreshed access token, and te was called exactly once.
func refreshTogether(t *testing.T, fleet []*fleetInstance, cookie *http.Request, te *tokenEndpoint) {
	t.Helper()
	const n = 30
	var wg sync.WaitGroup
	got := make([]string, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r := cookie.Clone(context.Background())
			s, err := fleet[i%3].flow.Session(r.Context(), httptest.NewRecorder(), r)
			errs[i] = err
			if s != nil {
				got[i] = s.AccessToken
			}
		}()
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil || got[i] != "at-1" {
			t.Errorf("request %d (instance %d): access token %q, error %v; want at-1", i, i%3, got[i], errs[i])
		}
	}
	if c := te.calls.Load(); c != 1 {
		t.Fatalf("token endpoint called %d times for %d concurrent requests over 3 instances, want exactly 1", c, n)
	}
}

func TestRefreshOncePerFleet(t *testing.T) {
	rs := startRedis(t)
	te := newTokenEndpoint(t)
	var fleet []*fleetInstance
	for range 3 {
		fleet = append(fleet, newFleetInstance(t, rs.addr(), te.srv.URL, true))
	}
	cookie := save(t, fleet[0].store, nearExpirySession())
	refreshTogether(t, fleet, cookie, te)
	// Every instance now reads the refreshed session from Redis.
	for i, in := range fleet {
		s, err := in.store.Load(cookie)
		if err != nil || s.AccessToken != "at-1" || s.RefreshToken != "rt-1" || time.Until(s.Expiry) < 50*time.Minute {
			t.Errorf("instance %d after refresh: %v, %v", i, s, err)
		}
	}
	if n, _ := fleet[0].store.c.rdb.Keys(context.Background(), "test:lock:*").Result(); len(n) != 0 {
		t.Errorf("refresh locks left behind: %v", n)
	}
}

// Without the coordinator, instances refresh on their own: with rotating
// refresh tokens some of them fail. This shows the test above can fail.
func TestRefreshWithoutCoordinatorIsNotShared(t *testing.T) {
	rs := startRedis(t)
	te := newTokenEndpoint(t)
	var fleet []*fleetInstance
	for range 3 {
		fleet = append(fleet, newFleetInstance(t, rs.addr(), te.srv.URL, false))
	}
	cookie := save(t, fleet[0].store, nearExpirySession())
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := cookie.Clone(context.Background())
			_, _ = fleet[i].flow.Session(r.Context(), httptest.NewRecorder(), r)
		}()
	}
	wg.Wait()
	if c := te.calls.Load(); c < 2 {
		t.Fatalf("uncoordinated instances called the token endpoint %d times; expected one per instance", c)
	}
}

func TestRefreshSessionEndedElsewhere(t *testing.T) {
	rs := startRedis(t)
	te := newTokenEndpoint(t)
	a := newFleetInstance(t, rs.addr(), te.srv.URL, true)
	s := nearExpirySession()
	cookie := save(t, a.store, s)
	// Another instance's RefreshLock sees the session vanish (logout) while
	// this request still holds the pre-logout copy.
	if n, err := a.store.End(context.Background(), "https://op.example", "sid-1", ""); err != nil || n != 1 {
		t.Fatalf("End = %d, %v", n, err)
	}
	_, err := NewRefreshLock(a.store, RefreshLockConfig{}).Refresh(context.Background(), s, func(context.Context) (*session.Session, error) {
		t.Error("refreshed a session that was logged out")
		return nil, errors.New("unexpected")
	})
	if !errors.Is(err, session.ErrNoSession) {
		t.Fatalf("Refresh of an ended session: %v, want ErrNoSession", err)
	}
	if _, err := a.flow.Session(context.Background(), httptest.NewRecorder(), cookie); !errors.Is(err, session.ErrNoSession) {
		t.Fatalf("Flow.Session after logout elsewhere: %v", err)
	}
	if te.calls.Load() != 0 {
		t.Fatal("token endpoint called for an ended session")
	}
}

func TestRefreshWaitsForHolderAndGivesUp(t *testing.T) {
	rs := startRedis(t)
	st := newTestStore(t, newClient(t, rs.addr()))
	s := nearExpirySession()
	save(t, st, s)
	// Someone else holds the lock and never finishes.
	release, ok, err := st.c.tryLock(context.Background(), st.c.key("lock:refresh", s.ID), 10*time.Second)
	if err != nil || !ok {
		t.Fatalf("tryLock: %v %v", ok, err)
	}
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = NewRefreshLock(st, RefreshLockConfig{}).Refresh(ctx, s, func(context.Context) (*session.Session, error) {
		t.Error("refreshed while another instance holds the lock")
		return nil, errors.New("unexpected")
	})
	// The bound is loose on purpose: it only shows that the wait ends with
	// the caller's context and not with the 10s lock (CPU load delays it).
	if !errors.Is(err, ErrRefreshWait) || time.Since(start) > 5*time.Second {
		t.Fatalf("got %v after %v, want ErrRefreshWait after about 300ms", err, time.Since(start))
	}
	// The holder publishes a refreshed session: a waiter takes it.
	ns := s.Clone()
	ns.AccessToken, ns.RefreshToken = "at-9", "rt-9"
	go func() {
		time.Sleep(100 * time.Millisecond)
		_, prev, _ := st.getRaw(context.Background(), s.ID)
		_, _ = st.replace(context.Background(), ns, prev)
	}()
	got, err := NewRefreshLock(st, RefreshLockConfig{}).Refresh(context.Background(), s, func(context.Context) (*session.Session, error) {
		return nil, errors.New("unexpected refresh")
	})
	if err != nil || got.AccessToken != "at-9" {
		t.Fatalf("waiter got %v, %v; want the holder's at-9", got, err)
	}
}
