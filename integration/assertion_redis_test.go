package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/redis/go-redis/v9"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
	"github.com/edgeauth/caddy-edgeauth/internal/redistest"
	"github.com/edgeauth/caddy-edgeauth/module/session"
)

// With the Redis session store, the assertion keys live in Redis: gateways
// whose storage folders are separate still sign with one key set.

// assertionRedisPrefix is the store's key prefix in these tests.
const assertionRedisPrefix = "edgeauth-assertion-test:"

// redisAssertionNode starts a gateway process on its own storage folder
// with the Redis session store at addr, and waits until it has the
// provider's keys. It returns the node and its storage folder.
func redisAssertionNode(t *testing.T, e *env, bin, addr string) (*assertionNode, string) {
	t.Helper()
	storage := t.TempDir()
	port := freePort(t)
	session := fmt.Sprintf(`		session {
			secret %s
			store redis {
				address %s
				key_prefix %s
			}
		}`, secretNew, addr, assertionRedisPrefix)
	cfg := withStorage(e.globals(e.providerBlock("demo")+"\n"+session+"\n"+assertionBlock()), storage)
	cfg = strings.Replace(cfg, fmt.Sprintf("admin 127.0.0.1:%d", e.admin), "admin off", 1)
	cfg += fmt.Sprintf(`http://127.0.0.1:%d {
	handle /ready {
		edgeauth demo
		reverse_proxy %[2]s
	}
	handle {
		edgeauth demo {
			assertion https://api.internal
		}
		reverse_proxy %[2]s
	}
}
`, port, e.upstream)
	n := startAssertionNode(t, bin, cfg)
	n.base = fmt.Sprintf("http://127.0.0.1:%d", port)
	auth := http.Header{"Authorization": {"Bearer " + e.aliceToken()}}
	waitFor(t, "a gateway with the provider's keys", 20*time.Second, func() bool {
		select {
		case <-n.exited:
			t.Fatalf("a gateway exited; its output:\n%s", n.output)
		default:
		}
		resp, _, err := fetch(e.client, n.base+"/ready", auth)
		return err == nil && resp.StatusCode == http.StatusOK
	})
	return n, storage
}

// assertionOf asks n for alice's assertion; "" and a reason when it fails.
func assertionOf(e *env, n *assertionNode, alice string) (string, string) {
	resp, body, err := fetch(e.client, n.base+"/x", http.Header{"Authorization": {"Bearer " + alice}})
	if err != nil {
		return "", err.Error()
	}
	var got echo
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &got) != nil {
		return "", fmt.Sprintf("%d %s", resp.StatusCode, body)
	}
	if jws := got.header("X-Auth-Assertion"); jws != "" {
		return jws, ""
	}
	return "", "no X-Auth-Assertion reached the upstream"
}

// Two Caddy processes with separate storage folders and one Redis session
// store, asked for their first assertion at the same moment, end with one
// key kept in Redis (none in either folder): they publish the same JWKS and
// each one's assertion verifies with the other's. A third process on a
// fresh folder signs with that key too (a restart keeps it), and one that
// cannot reach Redis fails closed.
func TestAssertionRedisSharesKeys(t *testing.T) {
	bin := buildCaddy(t)
	rs := redistest.Start(t)
	e := newEnv(t, demoidp.Options{})
	nodes := make([]*assertionNode, 2)
	folders := make([]string, 2)
	for i := range nodes {
		nodes[i], folders[i] = redisAssertionNode(t, e, bin, rs.Addr())
	}
	alice := e.aliceToken()

	// The first assertions, on both at once: a generation race.
	jws := make([]string, len(nodes))
	failures := concurrently(len(nodes), func(i int) string {
		var why string
		if jws[i], why = assertionOf(e, nodes[i], alice); why != "" {
			return fmt.Sprintf("gateway %d: %s", i+1, why)
		}
		return ""
	})
	if len(failures) > 0 {
		t.Fatal(failures)
	}
	sets := []jose.JSONWebKeySet{fetchJWKS(t, e.client, nodes[0].base), fetchJWKS(t, e.client, nodes[1].base)}
	if len(sets[0].Keys) != 1 || len(sets[1].Keys) != 1 || sets[0].Keys[0].KeyID != sets[1].Keys[0].KeyID {
		t.Fatalf("the gateways publish different key sets: %v and %v", sets[0].Keys, sets[1].Keys)
	}
	kid := sets[0].Keys[0].KeyID
	for i := range nodes {
		if _, got, err := verifyAssertion(jws[i], sets[1-i], "https://api.internal", time.Now()); err != nil || got != kid {
			t.Errorf("gateway %d's assertion (kid %q) does not verify with gateway %d's JWKS: %v", i+1, got, 2-i, err)
		}
	}

	// The key set is in Redis, under the store's prefix, and in no folder.
	raw := redis.NewClient(&redis.Options{Addr: rs.Addr()})
	defer raw.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	keys, err := raw.Keys(ctx, assertionRedisPrefix+"assertion:edgeauth/assertion/*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("key sets in Redis: %q, %v; want one", keys, err)
	}
	// Sealed with the session secret: no private key in Redis, and it
	// opens with that secret for its key.
	stored, err := raw.HGet(ctx, keys[0], "value").Result()
	if err != nil || strings.Contains(stored, "PRIVATE KEY") || strings.Contains(stored, "private_key") {
		t.Fatalf("the key set in Redis is not sealed (%v)", err)
	}
	if sealer, err := session.NewSealer([][]byte{[]byte(secretNew)}); err != nil {
		t.Fatal(err)
	} else if pt, err := sealer.Open(stored, []byte("edgeauth key store\x00"+keys[0])); err != nil || !strings.Contains(string(pt), "PRIVATE KEY") {
		t.Fatalf("the key set in Redis does not open with the session secret: %v", err)
	}
	if n, err := raw.Exists(ctx, assertionRedisPrefix+"assertion-lock:"+strings.TrimSuffix(strings.TrimPrefix(keys[0], assertionRedisPrefix+"assertion:edgeauth/assertion/"), ".json")).Result(); err != nil || n != 0 {
		t.Fatalf("a generation lock outlived the generation: %d, %v", n, err)
	}
	for i, dir := range folders {
		_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && strings.Contains(path, "assertion") {
				t.Errorf("gateway %d keeps assertion keys in its storage folder: %s", i+1, path)
			}
			return nil
		})
	}

	// A new process on a fresh folder (a restart, or a new instance)
	// signs with the same key.
	third, _ := redisAssertionNode(t, e, bin, rs.Addr())
	j, why := assertionOf(e, third, alice)
	if why != "" {
		t.Fatalf("a third gateway: %s", why)
	}
	if _, got, err := verifyAssertion(j, sets[0], "https://api.internal", time.Now()); err != nil || got != kid {
		t.Fatalf("a third gateway's assertion (kid %q) does not verify with the fleet's JWKS: %v", got, err)
	}

	// Without Redis, a gateway that has no key yet answers 503 with
	// Retry-After, and signs nothing.
	rs.Stop()
	fourth, _ := redisAssertionNode(t, e, bin, rs.Addr())
	resp, body, err := fetch(e.client, fourth.base+"/x", http.Header{"Authorization": {"Bearer " + alice}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || strings.Contains(string(body), "X-Auth-Assertion") {
		t.Fatalf("with Redis down: %d (Retry-After %q) %s; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
}
