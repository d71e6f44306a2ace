package fleet

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/internal/redistest"
	"github.com/edgeauth/caddy-edgeauth/module/session"
)

// startRedis starts a real redis-server for the test (see redistest).
// eventually bounds a wait for something that must happen but whose timing
// is not what a test checks (a link coming back, a first PING): generous,
// so that a CI machine starved of CPU (the package runs 50 times under
// -race) is not a failure. Bounds that are the property under test (the
// revocation bound, the lease) stay tight where they are checked.
const eventually = 20 * time.Second

func startRedis(t *testing.T) *redisServer {
	t.Helper()
	return &redisServer{redistest.Start(t)}
}

// redisServer adapts redistest.Server to the names used in these tests.
type redisServer struct{ *redistest.Server }

func (s *redisServer) addr() string { return s.Addr() }
func (s *redisServer) stop()        { s.Stop() }
func (s *redisServer) start()       { s.Restart() }

func newClient(t *testing.T, addr string, tweak ...func(*Config)) *Client {
	t.Helper()
	cfg := Config{Addrs: []string{addr}, KeyPrefix: "test:"}
	for _, f := range tweak {
		f(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), eventually)
	defer cancel()
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	return c
}

func testSealer(t testing.TB) *session.Sealer {
	t.Helper()
	s, err := session.NewSealer([][]byte{[]byte("0123456789abcdef0123456789abcdef-fleet-test")})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newTestStore(t *testing.T, c *Client, tweak ...func(*StoreConfig)) *Store {
	t.Helper()
	cfg := StoreConfig{Sealer: testSealer(t), Cookie: session.CookieOptions{Name: "edgeauth", Path: "/"}, Lifetime: time.Hour}
	for _, f := range tweak {
		f(&cfg)
	}
	s, err := NewStore(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func startRedisB(b *testing.B) *redistest.Server { return redistest.Start(b) }

func sleepB() { time.Sleep(10 * time.Millisecond) }

func saveB(b *testing.B, st *Store, s *session.Session) *http.Request {
	rec := httptest.NewRecorder()
	if err := st.Save(rec, httptest.NewRequest("GET", "http://app.example.com/", nil), s); err != nil {
		b.Fatalf("Save: %v", err)
	}
	return withCookies(rec)
}
