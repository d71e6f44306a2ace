package login

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/edgeauth/caddy-edgeauth/module/session"
)

// saveFailingStore is the test's cookie store whose Save fails with err, as
// a server-side store does while it is unreachable.
type saveFailingStore struct {
	session.Store
	err error
}

func (s saveFailingStore) Save(http.ResponseWriter, *http.Request, *session.Session) error {
	return s.err
}

// TestCallbackStoreOutageIs503: when the new session cannot be stored
// because the store is down, the callback answers 503 with Retry-After (an
// outage: retrying helps), not 500 with the cookie-size text; a session too
// large for cookies stays a 500 that says so.
func TestCallbackStoreOutageIs503(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		status int
		text   string
	}{
		{"store down", fmt.Errorf("fleet: %w", errors.New("redis unavailable: dial tcp: connection refused")), http.StatusServiceUnavailable, "could not be stored"},
		{"too large", fmt.Errorf("%w: 99999 bytes do not fit in 10 cookies", session.ErrTooLarge), http.StatusInternalServerError, "too large for cookies"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, false, func(c *FlowConfig) { c.Store = saveFailingStore{c.Store, tc.err} })
			c := e.browser(t, false)
			start, _ := navigate(t, c, "GET", e.srv.URL+"/app")
			cb := step(t, c, start)
			loc, _ := cb.Location()
			resp, body := navigate(t, c, "GET", loc.String())
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.text) {
				t.Fatalf("callback: %d %q, want %d containing %q", resp.StatusCode, body, tc.status, tc.text)
			}
			if ra := resp.Header.Get("Retry-After"); (tc.status == http.StatusServiceUnavailable) != (ra != "") {
				t.Errorf("status %d with Retry-After %q", resp.StatusCode, ra)
			}
			if strings.Contains(body, "redis") || strings.Contains(body, "dial") {
				t.Errorf("the page shows the store's error: %q", body)
			}
		})
	}
}
