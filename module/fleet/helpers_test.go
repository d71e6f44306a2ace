package fleet

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/session"
)

// redisServer is a real redis-server on a loopback port, in a temp dir,
// without persistence. Tests fail (never skip) when it is not installed.
type redisServer struct {
	t    *testing.T
	bin  string
	dir  string
	port int
	cmd  *exec.Cmd
}

func startRedis(t *testing.T) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is not installed (these tests need a real Redis): install the Debian package with `apt-get install -y redis-server`, or put redis-server on PATH")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	s := &redisServer{t: t, bin: bin, dir: t.TempDir(), port: port}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

func (s *redisServer) start() {
	s.t.Helper()
	cmd := exec.Command(s.bin, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir, "--daemonize", "no", "--loglevel", "warning")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("starting redis-server: %v", err)
	}
	s.cmd = cmd
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if pingRaw(s.addr()) == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.stop()
	s.t.Fatalf("redis-server on %s did not answer PING within 10s; its output:\n%s", s.addr(), out.String())
}

// stop kills the server (SIGKILL: no goodbye to clients) and waits.
func (s *redisServer) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

func pingRaw(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("unexpected reply %q", line)
	}
	return nil
}

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
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
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
