package demoidp

import (
	"net/http"
	"sync/atomic"
	"time"
)

type faults struct {
	down atomic.Bool
	hang atomic.Int64 // nanoseconds
}

// apply delays the request by the hang duration (cut short when the client
// gives up or the server closes) and answers 503 while down. It reports
// whether the handler should run.
func (f *faults) apply(w http.ResponseWriter, r *http.Request, closing <-chan struct{}) bool {
	if d := time.Duration(f.hang.Load()); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return false
		case <-closing:
			return false
		}
	}
	if f.down.Load() {
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{
			"error":             "temporarily_unavailable",
			"error_description": "the demo IdP was put down with SetDown(true)",
		})
		return false
	}
	return true
}

// SetDown makes every endpoint answer 503 (with Retry-After) while on.
// Requests are still counted.
func (s *Server) SetDown(on bool) { s.faults.down.Store(on) }

// SetHang delays every response by d (0 turns it off); a request whose client
// gives up, or a Close, ends the wait.
func (s *Server) SetHang(d time.Duration) { s.faults.hang.Store(int64(d)) }

type counters struct {
	discovery, jwks, token, userinfo, introspect, authorize, revoke, logout atomic.Int64
}

// Counters is a snapshot of how many requests each endpoint received
// (including those answered 503 by SetDown).
type Counters struct {
	Discovery, JWKS, Token, Userinfo, Introspect, Authorize, Revoke, Logout int64
}

// Counts returns the request counters.
func (s *Server) Counts() Counters {
	c := &s.counts
	return Counters{
		Discovery: c.discovery.Load(), JWKS: c.jwks.Load(), Token: c.token.Load(),
		Userinfo: c.userinfo.Load(), Introspect: c.introspect.Load(),
		Authorize: c.authorize.Load(), Revoke: c.revoke.Load(), Logout: c.logout.Load(),
	}
}

// ResetCounts sets every counter to zero.
func (s *Server) ResetCounts() {
	c := &s.counts
	for _, a := range []*atomic.Int64{&c.discovery, &c.jwks, &c.token, &c.userinfo, &c.introspect, &c.authorize, &c.revoke, &c.logout} {
		a.Store(0)
	}
}
