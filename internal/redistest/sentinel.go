package redistest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelMasterName is the name the Sentinels of StartSentinel monitor.
const SentinelMasterName = "edgeauth-test"

// Sentinel timings: short, so that a failover takes a few seconds. The
// master is considered down after DownAfter without an answer; a failover
// that does not finish is retried after FailoverTimeout.
const (
	SentinelDownAfter       = time.Second
	SentinelFailoverTimeout = 3 * time.Second
)

// Sentinel is a master, one replica (replicaof the master) and three
// Sentinels monitoring the master as SentinelMasterName with quorum 2.
type Sentinel struct {
	// Master and Replica are the data servers as started; after a failover
	// Replica is the master (see CurrentMaster).
	Master, Replica *Server
	// Sentinels are the three `redis-server --sentinel` processes.
	Sentinels []*Server

	clients clients
}

// StartSentinel starts the master, the replica and the three Sentinels and
// waits until the replica is in sync and every Sentinel sees the replica
// and the two other Sentinels. Everything is killed and the directories
// removed when the test ends.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	s := &Sentinel{}
	s.Master = startServer(t, "sentinel master", func(int, string) []string { return nil })
	s.Replica = startServer(t, "sentinel replica", func(int, string) []string {
		return []string{"--replicaof", "127.0.0.1", strconv.Itoa(s.Master.Port())}
	})
	for i := range 3 {
		s.Sentinels = append(s.Sentinels, startSentinelProcess(t, i+1, s.Master.Port()))
	}
	ctx := context.Background()
	err := waitUntil(20*time.Second, func() error {
		info, err := s.admin(s.Replica.Addr()).Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "master_link_status:up") {
			return fmt.Errorf("replica not in sync:\n%s", info)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the replica did not sync with the master: %v", err)
	}
	for _, sn := range s.Sentinels {
		err := waitUntil(20*time.Second, func() error {
			m, err := s.sentinel(sn.Addr()).Master(ctx, SentinelMasterName).Result()
			if err != nil {
				return err
			}
			if m["num-slaves"] != "1" || m["num-other-sentinels"] != "2" || m["flags"] != "master" {
				return fmt.Errorf("sentinel sees replicas %s, other sentinels %s, flags %s", m["num-slaves"], m["num-other-sentinels"], m["flags"])
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s (%s) is not ready: %v", sn.label, sn.Addr(), err)
		}
	}
	return s
}

// startSentinelProcess writes a sentinel.conf (Sentinel rewrites it, so it
// lives in the process's own directory) and starts `redis-server <conf>
// --sentinel` on a free port.
func startSentinelProcess(t testing.TB, n, masterPort int) *Server {
	t.Helper()
	var last error
	for range 3 {
		port := FreePort(t)
		dir := t.TempDir()
		conf := filepath.Join(dir, "sentinel.conf")
		body := fmt.Sprintf(`port %d
bind 127.0.0.1
daemonize no
dir %s
loglevel warning
sentinel monitor %s 127.0.0.1 %d 2
sentinel down-after-milliseconds %[3]s %[5]d
sentinel failover-timeout %[3]s %[6]d
sentinel parallel-syncs %[3]s 1
`, port, dir, SentinelMasterName, masterPort, SentinelDownAfter.Milliseconds(), SentinelFailoverTimeout.Milliseconds())
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		sn, err := startWithArgs(t, fmt.Sprintf("sentinel %d", n), port, dir, []string{conf, "--sentinel"})
		if err == nil {
			return sn
		}
		last = err
	}
	t.Fatalf("%v", last)
	return nil
}

// Addrs are the Sentinels' host:port addresses (what a client is given).
func (s *Sentinel) Addrs() []string {
	out := make([]string, len(s.Sentinels))
	for i, sn := range s.Sentinels {
		out[i] = sn.Addr()
	}
	return out
}

func (s *Sentinel) admin(addr string) *redis.Client { return s.clients.node(s.Master.t, addr) }

func (s *Sentinel) sentinel(addr string) *redis.SentinelClient {
	return s.clients.sentinel(s.Master.t, addr)
}

// CurrentMaster is the master's address as a majority of the running
// Sentinels report it (SENTINEL GET-MASTER-ADDR-BY-NAME).
func (s *Sentinel) CurrentMaster() (string, error) {
	votes := map[string]int{}
	running := 0
	for _, sn := range s.Sentinels {
		if !sn.Running() {
			continue
		}
		running++
		hp, err := s.sentinel(sn.Addr()).GetMasterAddrByName(context.Background(), SentinelMasterName).Result()
		if err == nil && len(hp) == 2 {
			votes[hp[0]+":"+hp[1]]++
		}
	}
	for addr, n := range votes {
		if 2*n > running {
			return addr, nil
		}
	}
	return "", fmt.Errorf("redistest: the sentinels disagree on the master: %v", votes)
}

// server is the data server listening on addr.
func (s *Sentinel) server(addr string) *Server {
	for _, d := range []*Server{s.Master, s.Replica} {
		if d.Addr() == addr {
			return d
		}
	}
	return nil
}

// WaitReplicated makes sure that every write acknowledged so far by the
// current master has reached the replica: it writes a marker key and waits
// (WAIT 1, on the same connection) until the replica acknowledges it;
// replication is one ordered stream, so the earlier writes are there too.
func (s *Sentinel) WaitReplicated(t testing.TB) {
	t.Helper()
	addr, err := s.CurrentMaster()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cl := s.admin(addr)
	var wait *redis.Cmd
	_, err = cl.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "redistest:replicated", time.Now().String(), time.Minute)
		wait = p.Do(ctx, "WAIT", 1, 2000)
		return nil
	})
	if n, _ := wait.Int64(); err != nil || n < 1 {
		t.Fatalf("the replica did not acknowledge the master's writes (WAIT 1): %d replicas, %v", n, err)
	}
}

// KillMaster kills the current master with SIGKILL (no goodbye to clients
// or to the replica) and returns its address.
func (s *Sentinel) KillMaster(t testing.TB) string {
	t.Helper()
	addr, err := s.CurrentMaster()
	if err != nil {
		t.Fatal(err)
	}
	d := s.server(addr)
	if d == nil {
		t.Fatalf("the sentinels name %s as master, which is neither server started here", addr)
	}
	d.Stop()
	return addr
}

// WaitFailover waits until the Sentinels name another master than old and
// that server answers as a master (ROLE), and returns its address.
func (s *Sentinel) WaitFailover(t testing.TB, old string, within time.Duration) string {
	t.Helper()
	var addr string
	err := waitUntil(within, func() error {
		a, err := s.CurrentMaster()
		if err != nil {
			return err
		}
		if a == old {
			return fmt.Errorf("the sentinels still name %s", old)
		}
		role, err := s.admin(a).Do(context.Background(), "ROLE").Slice()
		if err != nil {
			return err
		}
		if len(role) == 0 || role[0] != "master" {
			return fmt.Errorf("%s answers ROLE %v", a, role)
		}
		addr = a
		return nil
	})
	if err != nil {
		t.Fatalf("no failover from %s within %s: %v", old, within, err)
	}
	return addr
}
