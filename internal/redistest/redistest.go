// Package redistest runs real Redis servers for tests: a single
// redis-server (Start), a Redis Cluster of three masters (StartCluster) and
// a master with a replica watched by three Sentinels (StartSentinel). Every
// process listens on a free loopback port, works in a temporary directory,
// persists nothing and is killed when the test ends (also when it fails).
// A test that needs Redis fails (never skips) when redis-server or
// redis-cli is not installed; install the Debian package redis-server
// (it brings redis-tools, which holds redis-cli; Sentinel is
// `redis-server --sentinel`).
package redistest

import (
	"bufio"

	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is a redis-server child process (a plain server, a cluster node,
// a replica or a Sentinel).
type Server struct {
	t     testing.TB
	bin   string
	dir   string
	port  int
	args  []string // the arguments after the binary, fixed at first start
	cmd   *exec.Cmd
	done  chan struct{} // closed when cmd has exited
	out   *lockedBuffer
	label string
}

// Start starts a redis-server and stops it when the test ends. It calls
// t.Fatal when redis-server is missing or does not answer PING within 10s.
func Start(t testing.TB) *Server {
	t.Helper()
	return startServer(t, "redis-server", func(port int, dir string) []string { return nil })
}

// serverBin returns the path of redis-server or fails t.
func serverBin(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is not installed (these tests need a real Redis): install the Debian package with `apt-get install -y redis-server`, or put redis-server on PATH")
	}
	return bin
}

// startServer starts a server on a free port in a new temporary directory
// with the common arguments (no persistence, loopback only) followed by
// extra(port, dir). When the port was taken meanwhile (the process exits at
// once) it tries again with another one.
func startServer(t testing.TB, label string, extra func(port int, dir string) []string) *Server {
	t.Helper()
	bin := serverBin(t)
	var last error
	for range 3 {
		port := FreePort(t)
		dir := t.TempDir()
		args := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no", "--loglevel", "warning"},
			extra(port, dir)...)
		s := &Server{t: t, bin: bin, dir: dir, port: port, args: args, label: label}
		if last = s.launch(); last == nil {
			t.Cleanup(s.Stop)
			return s
		}
	}
	t.Fatalf("%v", last)
	return nil
}

// startWithArgs starts a server with exactly these arguments (used for
// Sentinels, whose configuration is a file); port is where it listens.
func startWithArgs(t testing.TB, label string, port int, dir string, args []string) (*Server, error) {
	s := &Server{t: t, bin: serverBin(t), dir: dir, port: port, args: args, label: label}
	if err := s.launch(); err != nil {
		return nil, err
	}
	t.Cleanup(s.Stop)
	return s, nil
}

// FreePort returns a loopback TCP port that was free a moment ago (the
// kernel's choice for port 0). The server started on it may still lose a
// race for it; the starters here then try another port.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	return port
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// Port is the server's port.
func (s *Server) Port() int { return s.port }

// Restart starts the server again on the same port, with the same
// arguments, after Stop (a plain server comes back empty: nothing is
// persisted; a cluster node keeps its nodes.conf).
func (s *Server) Restart() {
	s.t.Helper()
	if s.cmd != nil {
		return
	}
	if err := s.launch(); err != nil {
		s.t.Fatalf("%v", err)
	}
}

// launch runs the process and waits until it answers PING (10s).
func (s *Server) launch() error {
	cmd := exec.Command(s.bin, s.args...)
	s.out = &lockedBuffer{max: 64 << 10}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redistest: starting %s: %v", s.label, err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	go func(done chan struct{}) {
		_ = cmd.Wait()
		close(done)
	}(s.done)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			s.cmd = nil
			return fmt.Errorf("redistest: %s on %s exited at start; its output:\n%s", s.label, s.Addr(), s.out)
		default:
		}
		if Ping(s.Addr()) == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Stop()
	return fmt.Errorf("redistest: %s on %s did not answer PING within 10s; its output:\n%s", s.label, s.Addr(), s.out)
}

// Stop kills the server (SIGKILL: clients get no goodbye, nothing is
// flushed or handed over) and waits for it to exit.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Running reports whether the process is running.
func (s *Server) Running() bool {
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// Ping sends a raw PING to addr and expects +PONG.
func Ping(addr string) error {
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
		return fmt.Errorf("redistest: unexpected reply %q to PING", line)
	}
	return nil
}

// waitUntil polls cond every 50ms until it returns nil or within has
// passed; it returns cond's last error.
func waitUntil(within time.Duration, cond func() error) error {
	deadline := time.Now().Add(within)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lockedBuffer keeps the last max bytes written to it; it is safe for
// concurrent use.
type lockedBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

// Write implements io.Writer.
func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

// String returns what was kept.
func (b *lockedBuffer) String() string {
	if b == nil {
		return ""
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
