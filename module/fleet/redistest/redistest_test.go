package redistest

import (
	"testing"
	"time"
)

// The cluster spreads keys over its three masters (CLUSTER KEYSLOT and
// CLUSTER SLOTS agree with where a key is stored).
func TestClusterThreeMasters(t *testing.T) {
	began := time.Now()
	c := StartCluster(t)
	t.Logf("cluster ready in %s", time.Since(began).Round(time.Millisecond))
	seen := map[string]bool{}
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"} {
		m, err := c.MasterOf(k)
		if err != nil {
			t.Fatal(err)
		}
		seen[m] = true
	}
	if len(seen) != 3 {
		t.Errorf("12 keys landed on %d masters, want 3: %v", len(seen), seen)
	}
	a, _ := c.Slot("{x}1")
	b, _ := c.Slot("{x}2")
	if a != b {
		t.Errorf("hash-tagged keys in slots %d and %d", a, b)
	}
}

// Killing the master makes the Sentinels promote the replica.
func TestSentinelFailover(t *testing.T) {
	began := time.Now()
	s := StartSentinel(t)
	t.Logf("sentinel setup ready in %s", time.Since(began).Round(time.Millisecond))
	s.WaitReplicated(t)
	old := s.KillMaster(t)
	if old != s.Master.Addr() {
		t.Fatalf("killed %s, want the first master %s", old, s.Master.Addr())
	}
	killed := time.Now()
	if got := s.WaitFailover(t, old, 20*time.Second); got != s.Replica.Addr() {
		t.Fatalf("new master %s, want the replica %s", got, s.Replica.Addr())
	}
	t.Logf("failover took %s", time.Since(killed).Round(time.Millisecond))
}
