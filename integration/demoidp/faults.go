package demoidp

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

type faults struct {
	down atomic.Bool
	hang atomic.Int64 // nanoseconds

	mu     sync.RWMutex
	status map[string]int // path → the error status it answers
}

// failing returns the status FailEndpoint set for path (0: none).
func (f *faults) failing(path string) int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.status[path]
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
	if st := f.failing(r.URL.Path); st != 0 {
		if st == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
		}
		writeJSON(w, st, map[string]any{
			"error":             "server_error",
			"error_description": "the demo IdP was told to fail " + r.URL.Path + " with FailEndpoint",
		})
		return false
	}
	return true
}

// FailEndpoint makes requests to path (e.g. PathJWKS) answer status, an HTTP
// error status, with a JSON error body (and Retry-After for 503), until it is
// called again with status 0. Requests are still counted. Unlike SetDown it
// leaves the other endpoints working.
func (s *Server) FailEndpoint(path string, status int) {
	if status != 0 && (status < 400 || status > 599) {
		panic(fmt.Sprintf("demoidp: FailEndpoint status %d is not an HTTP error status", status))
	}
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	if s.faults.status == nil {
		s.faults.status = map[string]int{}
	}
	if status == 0 {
		delete(s.faults.status, path)
		return
	}
	s.faults.status[path] = status
}

// SetDown makes every endpoint answer 503 (with Retry-After) while on.
// Requests are still counted.
func (s *Server) SetDown(on bool) { s.faults.down.Store(on) }

// SetHang delays every response by d (0 turns it off); a request whose client
// gives up, or a Close, ends the wait.
func (s *Server) SetHang(d time.Duration) { s.faults.hang.Store(int64(d)) }

type counters struct {
	discovery, jwks, token, userinfo, introspect, authorize, revoke, logout, all atomic.Int64
}

// Counters is a snapshot of how many requests each endpoint received
// (including those answered with an error by SetDown or FailEndpoint). All
// counts every request, whatever its path.
type Counters struct {
	Discovery, JWKS, Token, Userinfo, Introspect, Authorize, Revoke, Logout, All int64
}

// Counts returns the request counters.
func (s *Server) Counts() Counters {
	c := &s.counts
	return Counters{
		Discovery: c.discovery.Load(), JWKS: c.jwks.Load(), Token: c.token.Load(),
		Userinfo: c.userinfo.Load(), Introspect: c.introspect.Load(),
		Authorize: c.authorize.Load(), Revoke: c.revoke.Load(), Logout: c.logout.Load(),
		All: c.all.Load(),
	}
}

// ResetCounts sets every counter to zero.
func (s *Server) ResetCounts() {
	c := &s.counts
	for _, a := range []*atomic.Int64{&c.discovery, &c.jwks, &c.token, &c.userinfo, &c.introspect, &c.authorize, &c.revoke, &c.logout, &c.all} {
		a.Store(0)
	}
}
