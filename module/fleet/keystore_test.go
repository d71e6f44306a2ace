package fleet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/edgeauth/caddy-edgeauth/internal/redistest"
	"github.com/edgeauth/caddy-edgeauth/module/assertsign"
)

// The assertion key storage on a real redis-server: the certmagic.Storage
// operations, and the lock between two clients (two instances).

func newKeyStore(t *testing.T, c *Client, ttl time.Duration) *KeyStore {
	t.Helper()
	s, err := NewKeyStore(c, KeyStoreConfig{Sealer: testSealer(t), LockTTL: ttl, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestKeyStoreOperations(t *testing.T) {
	srv := startRedis(t)
	a := newKeyStore(t, newClient(t, srv.addr()), 0)
	b := newKeyStore(t, newClient(t, srv.addr()), 0) // another instance
	ctx := context.Background()

	if _, err := a.Load(ctx, "edgeauth/assertion/k.json"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load of a missing key: %v, want fs.ErrNotExist", err)
	}
	if a.Exists(ctx, "edgeauth") {
		t.Fatal("Exists on an empty store")
	}
	before := time.Now()
	val := []byte("-----BEGIN PRIVATE KEY-----\nnot really\n")
	for k, v := range map[string][]byte{
		"edgeauth/assertion/k.json":   val,
		"edgeauth/assertion/x*[?].js": []byte("glob characters"),
		"edgeauth/other/deep/a":       []byte("a"),
		"edgeauthx/b":                 []byte("b"),
	} {
		if err := a.Store(ctx, k, v); err != nil {
			t.Fatalf("Store %s: %v", k, err)
		}
	}
	got, err := b.Load(ctx, "edgeauth/assertion/k.json")
	if err != nil || !bytes.Equal(got, val) {
		t.Fatalf("the other instance loads %q, %v; want %q", got, err, val)
	}
	info, err := b.Stat(ctx, "edgeauth/assertion/k.json")
	if err != nil || !info.IsTerminal || info.Size <= int64(len(val)) || info.Modified.Before(before.Add(-time.Second)) || info.Modified.After(time.Now()) {
		t.Fatalf("Stat = %+v, %v", info, err)
	}
	if info, err := b.Stat(ctx, "edgeauth/other"); err != nil || info.IsTerminal {
		t.Fatalf("Stat of a directory = %+v, %v", info, err)
	}
	if _, err := b.Stat(ctx, "edgeauth/none"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Stat of a missing key: %v", err)
	}
	if !b.Exists(ctx, "edgeauth/other") || !b.Exists(ctx, "edgeauth/assertion/k.json") || b.Exists(ctx, "edgeauth/assertion/k") {
		t.Fatal("Exists is wrong for a directory, a key or a missing key")
	}

	list, err := b.List(ctx, "edgeauth", false)
	if want := []string{"edgeauth/assertion", "edgeauth/other"}; err != nil || !reflect.DeepEqual(list, want) {
		t.Fatalf("List(edgeauth) = %q, %v; want %q", list, err, want)
	}
	list, err = b.List(ctx, "edgeauth/", true)
	if want := []string{"edgeauth/assertion", "edgeauth/assertion/k.json", "edgeauth/assertion/x*[?].js",
		"edgeauth/other", "edgeauth/other/deep", "edgeauth/other/deep/a"}; err != nil || !reflect.DeepEqual(list, want) {
		t.Fatalf("List(edgeauth, recursive) = %q, %v; want %q", list, err, want)
	}
	// The glob characters of a key are literal in List's SCAN pattern.
	list, err = b.List(ctx, "edgeauth/assertion/x*[?].js", true)
	if err != nil || len(list) != 0 {
		t.Fatalf("List under a key = %q, %v", list, err)
	}

	// Overwrite, then delete a key and a directory.
	if err := b.Store(ctx, "edgeauth/assertion/k.json", []byte("new")); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.Load(ctx, "edgeauth/assertion/k.json"); string(got) != "new" {
		t.Fatalf("after an overwrite: %q", got)
	}
	if err := a.Delete(ctx, "edgeauth/assertion/k.json"); err != nil {
		t.Fatal(err)
	}
	if err := a.Delete(ctx, "edgeauth/assertion/k.json"); err != nil {
		t.Fatalf("deleting a missing key: %v", err)
	}
	if _, err := b.Load(ctx, "edgeauth/assertion/k.json"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load after Delete: %v", err)
	}
	if err := a.Delete(ctx, "edgeauth/other"); err != nil {
		t.Fatal(err)
	}
	list, err = b.List(ctx, "", true)
	if want := []string{"edgeauth", "edgeauth/assertion", "edgeauth/assertion/x*[?].js", "edgeauthx", "edgeauthx/b"}; err != nil || !reflect.DeepEqual(list, want) {
		t.Fatalf("List after deleting a directory = %q, %v; want %q", list, err, want)
	}

	// The keys live under the client's prefix.
	raw := redis.NewClient(&redis.Options{Addr: srv.addr()})
	defer raw.Close()
	if n, err := raw.Exists(ctx, "test:assertion:edgeauthx/b").Result(); err != nil || n != 1 {
		t.Fatalf("raw key test:assertion:edgeauthx/b: %d, %v", n, err)
	}

	// Redis down: errors (Exists false), never a hang.
	srv.stop()
	ctx2, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := a.Load(ctx2, "edgeauthx/b"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Load with Redis down: %v, want ErrUnavailable", err)
	}
	if err := b.Store(ctx2, "edgeauthx/b", []byte("x")); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Store with Redis down: %v, want ErrUnavailable", err)
	}
	if err := b.Lock(ctx2, "l"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Lock with Redis down: %v, want ErrUnavailable", err)
	}
	if _, err := b.List(ctx2, "", true); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("List with Redis down: %v, want ErrUnavailable", err)
	}
	if a.Exists(ctx2, "edgeauthx/b") {
		t.Fatal("Exists with Redis down")
	}
}

// lockWithin tries to take name within d and reports whether it got it.
func lockWithin(t *testing.T, s *KeyStore, name string, d time.Duration) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	err := s.Lock(ctx, name)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock: %v", err)
	}
	return err == nil
}

func TestKeyStoreLockExcludes(t *testing.T) {
	srv := startRedis(t)
	const ttl = 600 * time.Millisecond
	a := newKeyStore(t, newClient(t, srv.addr()), ttl)
	b := newKeyStore(t, newClient(t, srv.addr()), ttl)
	if !lockWithin(t, a, "gen", time.Second) {
		t.Fatal("a cannot take a free lock")
	}
	// A live holder renews its lock: b waits well past the TTL in vain.
	if lockWithin(t, b, "gen", 3*ttl) {
		t.Fatal("b took the lock a holds (past its TTL, so it was not renewed)")
	}
	// b waits and gets it as soon as a releases.
	got := make(chan time.Time, 1)
	go func() {
		if lockWithin(t, b, "gen", 5*time.Second) {
			got <- time.Now()
		}
		close(got)
	}()
	time.Sleep(200 * time.Millisecond)
	released := time.Now()
	if err := a.Unlock(context.Background(), "gen"); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	at, ok := <-got
	if !ok {
		t.Fatal("b did not get the lock after a released it")
	}
	if wait := at.Sub(released); wait > 500*time.Millisecond {
		t.Fatalf("b got the lock %s after the release", wait)
	}
	// Other names are independent.
	if !lockWithin(t, a, "other", time.Second) {
		t.Fatal("a cannot take another name")
	}
	if err := b.Unlock(context.Background(), "gen"); err != nil {
		t.Fatal(err)
	}
	if err := a.Unlock(context.Background(), "other"); err != nil {
		t.Fatal(err)
	}
}

func TestKeyStoreLockOfDeadHolderExpires(t *testing.T) {
	srv := startRedis(t)
	const ttl = 900 * time.Millisecond
	deadClient := newClient(t, srv.addr())
	dead := newKeyStore(t, deadClient, ttl)
	b := newKeyStore(t, newClient(t, srv.addr()), ttl)
	if !lockWithin(t, dead, "gen", time.Second) {
		t.Fatal("cannot take a free lock")
	}
	// The holder dies: its connection and its renewals stop.
	_ = deadClient.Close()
	died := time.Now()
	if !lockWithin(t, b, "gen", 5*time.Second) {
		t.Fatal("the lock of a dead holder never expired")
	}
	if wait := time.Since(died); wait < ttl/2 || wait > ttl+time.Second {
		t.Fatalf("b got the dead holder's lock after %s; want about the TTL %s", wait, ttl)
	}
	if err := b.Unlock(context.Background(), "gen"); err != nil {
		t.Fatal(err)
	}
}

func TestKeyStoreUnlockOnlyByHolder(t *testing.T) {
	srv := startRedis(t)
	const ttl = 600 * time.Millisecond
	a := newKeyStore(t, newClient(t, srv.addr()), ttl)
	b := newKeyStore(t, newClient(t, srv.addr()), ttl)
	c := newKeyStore(t, newClient(t, srv.addr()), ttl)
	if !lockWithin(t, a, "gen", time.Second) {
		t.Fatal("cannot take a free lock")
	}
	// Someone who does not hold it cannot release it.
	if err := b.Unlock(context.Background(), "gen"); err == nil {
		t.Fatal("b released a lock it does not hold")
	}
	if lockWithin(t, c, "gen", 300*time.Millisecond) {
		t.Fatal("the lock was released by a non-holder")
	}
	// a's lock vanishes while a still runs (as an expiry after a stall
	// would), b takes it; a's late Unlock must leave b's lock alone.
	raw := redis.NewClient(&redis.Options{Addr: srv.addr()})
	defer raw.Close()
	if err := raw.Del(context.Background(), "test:assertion-lock:gen").Err(); err != nil {
		t.Fatal(err)
	}
	if !lockWithin(t, b, "gen", time.Second) {
		t.Fatal("b cannot take the lock after it vanished")
	}
	time.Sleep(ttl / 2) // a's renewal finds its lock gone
	if err := a.Unlock(context.Background(), "gen"); err == nil {
		t.Fatal("a's Unlock of a lock it had lost reports no error")
	}
	if lockWithin(t, c, "gen", 2*ttl) {
		t.Fatal("a's late Unlock released b's lock")
	}
	if err := b.Unlock(context.Background(), "gen"); err != nil {
		t.Fatal(err)
	}
	if !lockWithin(t, c, "gen", time.Second) {
		t.Fatal("c cannot take the lock after its holder released it")
	}
	_ = c.Unlock(context.Background(), "gen")
}

// testClusterKeyStore runs the key storage on a three-master cluster: keys
// on every master are listed and deleted from an instance seeded with one
// node, and the lock excludes across instances.
func testClusterKeyStore(t *testing.T, cl *redistest.Cluster) {
	a := newKeyStore(t, clusterClient(t, cl, "cl-keys:", false), time.Second)
	b := newKeyStore(t, clusterClient(t, cl, "cl-keys:", true), time.Second)
	ctx := context.Background()
	var want, raw []string
	for i := range 12 {
		k := fmt.Sprintf("edgeauth/assertion/k%02d.json", i)
		want = append(want, k)
		raw = append(raw, "cl-keys:assertion:"+k)
		if err := a.Store(ctx, k, []byte(k)); err != nil {
			t.Fatalf("Store %s: %v", k, err)
		}
	}
	if m := mastersOf(t, cl, raw); len(m) < 2 {
		t.Fatalf("12 keys on %d master(s), want them spread: %v", len(m), m)
	}
	got, err := b.List(ctx, "edgeauth/assertion", false)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("List = %q, %v; want %q", got, err, want)
	}
	for _, k := range want {
		if v, err := b.Load(ctx, k); err != nil || string(v) != k {
			t.Fatalf("Load %s = %q, %v", k, v, err)
		}
	}
	if err := b.Delete(ctx, "edgeauth"); err != nil {
		t.Fatal(err)
	}
	if got, err := a.List(ctx, "", true); err != nil || len(got) != 0 {
		t.Fatalf("after deleting the directory: %q, %v", got, err)
	}
	if !lockWithin(t, a, "gen", time.Second) {
		t.Fatal("a cannot take a free lock")
	}
	if lockWithin(t, b, "gen", 1500*time.Millisecond) {
		t.Fatal("b took the lock a holds")
	}
	if err := a.Unlock(ctx, "gen"); err != nil {
		t.Fatal(err)
	}
	if !lockWithin(t, b, "gen", time.Second) {
		t.Fatal("b cannot take the lock after a released it")
	}
	_ = b.Unlock(ctx, "gen")
}

// Eight signers, each an instance with its own client, race to sign their
// first assertion on an empty Redis: the lock and the re-read after it
// leave one key, which every one of them signs with. Three rounds, each on
// a fresh prefix.
func TestKeyStoreSignersRaceToOneKey(t *testing.T) {
	srv := startRedis(t)
	for round := range 3 {
		prefix := fmt.Sprintf("race%d:", round)
		const n = 8
		signers := make([]*assertsign.Signer, n)
		for i := range signers {
			c := newClient(t, srv.addr(), func(c *Config) { c.KeyPrefix = prefix })
			s, err := assertsign.New(assertsign.Config{Issuer: "https://gw.example.test"}, assertsign.Options{Storage: newKeyStore(t, c, 0)})
			if err != nil {
				t.Fatal(err)
			}
			signers[i] = s
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, n)
		for i, s := range signers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = s.Assertion(context.Background(), assertsign.Claims{Audience: "https://api.internal", Subject: "alice"})
			}()
		}
		close(start)
		wg.Wait()
		kids := map[string]bool{}
		for i, s := range signers {
			if errs[i] != nil {
				t.Fatalf("round %d, signer %d: %v", round, i, errs[i])
			}
			for _, k := range s.Keys() {
				kids[k.Kid] = true
			}
		}
		if len(kids) != 1 {
			t.Fatalf("round %d: %d signers publish %d keys between them, want one: %v", round, n, len(kids), kids)
		}
	}
}
