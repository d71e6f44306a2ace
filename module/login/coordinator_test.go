package login

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/session"
)

// fakeCoordinator answers Refresh with behave (which may call do).
type fakeCoordinator struct {
	calls  atomic.Int32
	behave func(ctx context.Context, cur *session.Session, do func(context.Context) (*session.Session, error)) (*session.Session, error)
}

func (f *fakeCoordinator) Refresh(ctx context.Context, cur *session.Session, do func(context.Context) (*session.Session, error)) (*session.Session, error) {
	f.calls.Add(1)
	return f.behave(ctx, cur, do)
}

func sessionRequest(e *rpEnv, c *http.Client) *http.Request {
	u, _ := url.Parse(e.srv.URL)
	r := httptest.NewRequest("GET", e.srv.URL+"/api", nil)
	r.TLS = nil
	for _, ck := range c.Jar.Cookies(u) {
		r.AddCookie(ck)
	}
	return r
}

func clearedCookie(rec *httptest.ResponseRecorder) bool {
	for _, ck := range rec.Result().Cookies() {
		if ck.Name == "edgeauth" && ck.MaxAge < 0 {
			return true
		}
	}
	return false
}

func TestRefreshCoordinatorPaths(t *testing.T) {
	fc := &fakeCoordinator{}
	e := newEnv(t, false, func(cfg *FlowConfig) { cfg.RefreshCoordinator = fc })
	c := sessionWithShortTokens(t, e) // tokens expire in 30 s: due for refresh

	// Session ended elsewhere: no session, cookie cleared, no refresh.
	fc.behave = func(context.Context, *session.Session, func(context.Context) (*session.Session, error)) (*session.Session, error) {
		return nil, session.ErrNoSession
	}
	rec := httptest.NewRecorder()
	if _, err := e.flow.Session(context.Background(), rec, sessionRequest(e, c)); !errors.Is(err, session.ErrNoSession) || !clearedCookie(rec) {
		t.Fatalf("ended elsewhere: %v, cleared %v", err, clearedCookie(rec))
	}

	// Coordination failure while the tokens are valid: the session is used.
	down := errors.New("store down")
	fc.behave = func(context.Context, *session.Session, func(context.Context) (*session.Session, error)) (*session.Session, error) {
		return nil, down
	}
	rec = httptest.NewRecorder()
	s, err := e.flow.Session(context.Background(), rec, sessionRequest(e, c))
	if err != nil || s == nil || clearedCookie(rec) {
		t.Fatalf("coordination failure with valid tokens: %v, %v", s, err)
	}
	// … and once they have expired: the error, not a logout.
	e.age(61 * time.Minute)
	rec = httptest.NewRecorder()
	_, err = e.flow.Session(context.Background(), rec, sessionRequest(e, c))
	if !errors.Is(err, down) || errors.Is(err, ErrLoginRequired) || errors.Is(err, session.ErrNoSession) || clearedCookie(rec) {
		t.Fatalf("coordination failure with expired tokens: %v, cleared %v", err, clearedCookie(rec))
	}

	// The refresh's own failure keeps today's meaning: login required.
	e.age(59*time.Minute + 30*time.Second)
	e.op.set(func(op *testOP) { op.failRefresh = true })
	fc.behave = func(ctx context.Context, _ *session.Session, do func(context.Context) (*session.Session, error)) (*session.Session, error) {
		return do(ctx)
	}
	rec = httptest.NewRecorder()
	if _, err := e.flow.Session(context.Background(), rec, sessionRequest(e, c)); !errors.Is(err, ErrLoginRequired) || !clearedCookie(rec) {
		t.Fatalf("refresh refused through the coordinator: %v", err)
	}
	if n := e.op.refreshCalls.Load(); n != 1 {
		t.Fatalf("%d refresh calls, want 1", n)
	}
}

func TestRefreshCoordinatorSuccess(t *testing.T) {
	fc := &fakeCoordinator{}
	fc.behave = func(ctx context.Context, _ *session.Session, do func(context.Context) (*session.Session, error)) (*session.Session, error) {
		return do(ctx)
	}
	e := newEnv(t, false, func(cfg *FlowConfig) { cfg.RefreshCoordinator = fc })
	c := sessionWithShortTokens(t, e)
	e.op.set(func(op *testOP) { op.refreshExpiresIn = "3600" })
	before, _ := e.sessionOf(c)
	s, err := e.flow.Session(context.Background(), httptest.NewRecorder(), sessionRequest(e, c))
	if err != nil || s.AccessToken == before.AccessToken || fc.calls.Load() != 1 || e.op.refreshCalls.Load() != 1 {
		t.Fatalf("refresh through the coordinator: %v; coordinator calls %d, refresh calls %d", err, fc.calls.Load(), e.op.refreshCalls.Load())
	}
}
