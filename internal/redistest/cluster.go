package redistest

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a Redis Cluster of three masters without replicas, made with
// `redis-cli --cluster create` (the 16384 slots split in three ranges).
type Cluster struct {
	// Nodes are the three masters.
	Nodes []*Server

	clients clients
}

// StartCluster starts three cluster-enabled servers (each with its own
// port, cluster bus port and nodes.conf in its own temporary directory),
// joins them with `redis-cli --cluster create … --cluster-replicas 0
// --cluster-yes` and waits until every node reports cluster_state:ok and
// knows the other two. The nodes are killed and their directories removed
// when the test ends.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatalf("redis-cli is not installed (the cluster tests create the cluster with it): install the Debian package redis-tools (a dependency of redis-server)")
	}
	c := &Cluster{}
	for i := range 3 {
		c.Nodes = append(c.Nodes, startServer(t, fmt.Sprintf("cluster node %d", i+1), func(port int, dir string) []string {
			return []string{"--cluster-enabled", "yes",
				"--cluster-config-file", filepath.Join(dir, "nodes.conf"),
				"--cluster-port", strconv.Itoa(FreePort(t)),
				"--cluster-node-timeout", "2000"}
		}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, n := range c.Nodes {
		err := waitUntil(20*time.Second, func() error {
			info, err := c.client(n.Addr()).ClusterInfo(context.Background()).Result()
			if err != nil {
				return err
			}
			for _, want := range []string{"cluster_state:ok", "cluster_slots_assigned:16384", "cluster_known_nodes:3"} {
				if !strings.Contains(info, want+"\r\n") {
					return fmt.Errorf("CLUSTER INFO lacks %s:\n%s", want, info)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s (%s) did not become part of a healthy cluster: %v", n.label, n.Addr(), err)
		}
	}
	return c
}

// Addrs are the masters' host:port addresses.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.Addr()
	}
	return out
}

// client is a one-node admin connection to addr (not cluster-aware); it is
// closed when the test ends.
func (c *Cluster) client(addr string) *redis.Client { return c.clients.node(c.Nodes[0].t, addr) }

// Slot is the cluster slot of key, as the server computes it (CLUSTER
// KEYSLOT; hash tags included).
func (c *Cluster) Slot(key string) (int, error) {
	n, err := c.client(c.Nodes[0].Addr()).ClusterKeySlot(context.Background(), key).Result()
	return int(n), err
}

// MasterOf is the address of the master serving key's slot (CLUSTER
// KEYSLOT, then CLUSTER SLOTS).
func (c *Cluster) MasterOf(key string) (string, error) {
	slot, err := c.Slot(key)
	if err != nil {
		return "", err
	}
	ranges, err := c.client(c.Nodes[0].Addr()).ClusterSlots(context.Background()).Result()
	if err != nil {
		return "", err
	}
	for _, r := range ranges {
		if slot >= r.Start && slot <= r.End && len(r.Nodes) > 0 {
			return r.Nodes[0].Addr, nil
		}
	}
	return "", fmt.Errorf("redistest: no node serves slot %d", slot)
}

// Keys returns, per master address, the keys matching pattern stored on
// that master (KEYS on each node; for tests only).
func (c *Cluster) Keys(pattern string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, n := range c.Nodes {
		ks, err := c.client(n.Addr()).Keys(context.Background(), pattern).Result()
		if err != nil {
			return nil, err
		}
		out[n.Addr()] = ks
	}
	return out, nil
}

// Has reports whether the node at addr itself stores key: EXISTS sent to
// that node alone, after ASKING (so a node importing the key's slot
// answers too); a MOVED or ASK answer means the key is not there.
func (c *Cluster) Has(addr, key string) (bool, error) {
	ctx := context.Background()
	var exists *redis.Cmd
	_, err := c.client(addr).Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Do(ctx, "ASKING")
		exists = p.Do(ctx, "EXISTS", key)
		return nil
	})
	if err != nil {
		if msg := err.Error(); strings.HasPrefix(msg, "MOVED ") || strings.HasPrefix(msg, "ASK ") {
			return false, nil
		}
		return false, err
	}
	n, err := exists.Int64()
	return n == 1, err
}

// Migration moves one slot from its master to another, step by step as
// `redis-cli --cluster reshard` does, so that tests can send commands
// while the slot is migrating (the old master answers ASK for keys already
// moved) and after it moved (it answers MOVED to clients with an old slot
// map).
type Migration struct {
	c    *Cluster
	t    testing.TB
	Slot int
	// From and To are the masters' addresses.
	From, To string
	fromID   string
	toID     string
}

// BeginMigration marks slot as IMPORTING on another master and MIGRATING
// on its owner.
func (c *Cluster) BeginMigration(t testing.TB, slot int) *Migration {
	t.Helper()
	ctx := context.Background()
	m := &Migration{c: c, t: t, Slot: slot}
	ranges, err := c.client(c.Nodes[0].Addr()).ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range ranges {
		if slot >= r.Start && slot <= r.End && len(r.Nodes) > 0 {
			m.From, m.fromID = r.Nodes[0].Addr, r.Nodes[0].ID
		}
	}
	for _, n := range c.Nodes {
		if n.Addr() != m.From {
			m.To = n.Addr()
			break
		}
	}
	if m.From == "" || m.To == "" {
		t.Fatalf("redistest: slot %d has no owner or no other master to go to", slot)
	}
	if m.toID, err = c.client(m.To).Do(ctx, "CLUSTER", "MYID").Text(); err != nil {
		t.Fatal(err)
	}
	if err := c.client(m.To).Do(ctx, "CLUSTER", "SETSLOT", slot, "IMPORTING", m.fromID).Err(); err != nil {
		t.Fatalf("CLUSTER SETSLOT %d IMPORTING on %s: %v", slot, m.To, err)
	}
	if err := c.client(m.From).Do(ctx, "CLUSTER", "SETSLOT", slot, "MIGRATING", m.toID).Err(); err != nil {
		t.Fatalf("CLUSTER SETSLOT %d MIGRATING on %s: %v", slot, m.From, err)
	}
	return m
}

// MoveKeys moves every key of the slot to the new master (MIGRATE … KEYS)
// and returns how many there were.
func (m *Migration) MoveKeys() int {
	m.t.Helper()
	ctx := context.Background()
	from := m.c.client(m.From)
	keys, err := from.ClusterGetKeysInSlot(ctx, m.Slot, 1000).Result()
	if err != nil {
		m.t.Fatal(err)
	}
	if len(keys) == 0 {
		return 0
	}
	host, port, _ := strings.Cut(m.To, ":")
	args := []any{"MIGRATE", host, port, "", 0, 5000, "KEYS"}
	for _, k := range keys {
		args = append(args, k)
	}
	if err := from.Do(ctx, args...).Err(); err != nil {
		m.t.Fatalf("MIGRATE slot %d from %s to %s: %v", m.Slot, m.From, m.To, err)
	}
	return len(keys)
}

// Finish assigns the slot to the new master on every node (the new owner
// first, as redis-cli does) and waits until every node agrees.
func (m *Migration) Finish() {
	m.t.Helper()
	ctx := context.Background()
	order := []string{m.To, m.From}
	for _, n := range m.c.Nodes {
		if n.Addr() != m.To && n.Addr() != m.From {
			order = append(order, n.Addr())
		}
	}
	for _, addr := range order {
		if err := m.c.client(addr).Do(ctx, "CLUSTER", "SETSLOT", m.Slot, "NODE", m.toID).Err(); err != nil {
			m.t.Fatalf("CLUSTER SETSLOT %d NODE on %s: %v", m.Slot, addr, err)
		}
	}
	for _, n := range m.c.Nodes {
		err := waitUntil(10*time.Second, func() error {
			ranges, err := m.c.client(n.Addr()).ClusterSlots(ctx).Result()
			if err != nil {
				return err
			}
			for _, r := range ranges {
				if m.Slot >= r.Start && m.Slot <= r.End && len(r.Nodes) > 0 && r.Nodes[0].Addr == m.To {
					return nil
				}
			}
			return fmt.Errorf("%s does not yet see slot %d on %s", n.Addr(), m.Slot, m.To)
		})
		if err != nil {
			m.t.Fatal(err)
		}
	}
}
