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
