package fleet

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/edgeauth/caddy-edgeauth/module/assertsign"
	"github.com/edgeauth/caddy-edgeauth/module/session"
)

// The assertion key storage seals its values with the session secrets,
// bound to their Redis key, and re-seals a value that only an older secret
// opens, by compare-and-set. All on a real redis-server, with real
// assertsign key sets.

var (
	secretA = []byte("0123456789abcdef0123456789abcdef-secret-A")
	secretB = []byte("0123456789abcdef0123456789abcdef-secret-B")
)

func sealerOf(t *testing.T, secrets ...[]byte) *session.Sealer {
	t.Helper()
	s, err := session.NewSealer(secrets)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sealedKeyStore is a KeyStore on its own client (an instance) with the
// given session secrets, the first sealing.
func sealedKeyStore(t *testing.T, addr string, log *zap.Logger, secrets ...[]byte) *KeyStore {
	t.Helper()
	s, err := NewKeyStore(newClient(t, addr), KeyStoreConfig{Sealer: sealerOf(t, secrets...), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// signerOn is an assertsign signer on st for issuer, with algorithm alg.
func signerOn(t *testing.T, st *KeyStore, alg string) *assertsign.Signer {
	t.Helper()
	s, err := assertsign.New(assertsign.Config{Issuer: "https://gw.example.test", Algorithm: alg}, assertsign.Options{Storage: st})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var sealClaims = assertsign.Claims{Audience: "https://api.internal", Subject: "alice"}

// storedKeySet makes signer sign once (generating the key set) and returns
// the storage key of the set, found in Redis.
func storedKeySet(t *testing.T, raw *redis.Client, signer *assertsign.Signer) string {
	t.Helper()
	if _, err := signer.Assertion(context.Background(), sealClaims); err != nil {
		t.Fatalf("first assertion: %v", err)
	}
	keys, err := raw.Keys(context.Background(), "test:assertion:*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("key sets in Redis: %q, %v; want one", keys, err)
	}
	return strings.TrimPrefix(keys[0], "test:assertion:")
}

func rawValue(t *testing.T, raw *redis.Client, key string) string {
	t.Helper()
	v, err := raw.HGet(context.Background(), "test:assertion:"+key, valueField).Result()
	if err != nil {
		t.Fatalf("raw HGET %s: %v", key, err)
	}
	return v
}

// The value in Redis holds no form of the private key: not the PEM, not
// the DER, not the base64 (standard or URL) or hex of the DER; only the
// session secret opens it.
func TestKeyStoreValuesAreSealed(t *testing.T) {
	srv := startRedis(t)
	raw := redis.NewClient(&redis.Options{Addr: srv.addr()})
	defer raw.Close()
	for _, alg := range []string{"ES256", "EdDSA", "PS256"} {
		t.Run(alg, func(t *testing.T) {
			ctx := context.Background()
			if err := raw.FlushAll(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			st := sealedKeyStore(t, srv.addr(), nil, secretA)
			key := storedKeySet(t, raw, signerOn(t, st, alg))
			stored := rawValue(t, raw, key)

			plain, err := st.Load(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			var set struct {
				Keys []struct {
					Kid        string `json:"kid"`
					PrivateKey string `json:"private_key"`
				} `json:"keys"`
			}
			if err := json.Unmarshal(plain, &set); err != nil || len(set.Keys) != 1 {
				t.Fatalf("the opened value is not the key set: %v (%d keys)", err, len(set.Keys))
			}
			block, _ := pem.Decode([]byte(set.Keys[0].PrivateKey))
			if block == nil || !strings.Contains(block.Type, "PRIVATE KEY") {
				t.Fatalf("the key set holds no PEM private key: %q", set.Keys[0].PrivateKey)
			}
			der := block.Bytes
			decoded, err := base64.RawURLEncoding.DecodeString(stored)
			if err != nil {
				t.Fatalf("the stored value is not the sealed form (unpadded base64url): %v", err)
			}
			for what, needle := range map[string]string{
				"PEM type":          "PRIVATE KEY",
				"PEM armour":        "-----BEGIN",
				"the PEM body":      strings.Split(set.Keys[0].PrivateKey, "\n")[1],
				"base64 of the DER": base64.StdEncoding.EncodeToString(der)[:40],
				"base64url of DER":  base64.RawURLEncoding.EncodeToString(der)[:40],
				"hex of the DER":    hex.EncodeToString(der)[:40],
				"the key set JSON":  `"private_key"`,
				"the kid":           set.Keys[0].Kid,
			} {
				if strings.Contains(stored, needle) || bytes.Contains(decoded, []byte(needle)) {
					t.Errorf("the value in Redis holds %s", what)
				}
			}
			if bytes.Contains(decoded, der[len(der)-32:]) || strings.Contains(stored, string(der[len(der)-32:])) {
				t.Error("the value in Redis holds the DER of the private key")
			}
			// Sealed with the session secret, for this Redis key.
			if got, err := sealerOf(t, secretA).Open(stored, keyAAD("test:assertion:"+key)); err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("the stored value does not open with the session secret and its key: %v", err)
			}
			if _, err := sealerOf(t, secretB).Open(stored, keyAAD("test:assertion:"+key)); err == nil {
				t.Fatal("the stored value opens with another secret")
			}
		})
	}
}

// A value copied to another key (another storage key, or the same one
// under another prefix) does not open there, nor does an unsealed value;
// and a signer whose stored set does not open fails closed and never
// replaces it.
func TestKeyStoreValueBoundToKey(t *testing.T) {
	srv := startRedis(t)
	raw := redis.NewClient(&redis.Options{Addr: srv.addr()})
	defer raw.Close()
	ctx := context.Background()
	st := sealedKeyStore(t, srv.addr(), nil, secretA)
	key := storedKeySet(t, raw, signerOn(t, st, "ES256"))
	stored := rawValue(t, raw, key)

	// The ES256 set moved to where an EdDSA signer of the same issuer
	// looks: it does not open, and that signer neither signs nor generates.
	probe := sealedKeyStore(t, srv.addr(), nil, secretA)
	eddsa := signerOn(t, probe, "EdDSA")
	if _, err := eddsa.Assertion(ctx, sealClaims); err != nil {
		t.Fatal(err)
	}
	keys, _ := raw.Keys(ctx, "test:assertion:*").Result()
	var other string
	for _, k := range keys {
		if k != "test:assertion:"+key {
			other = strings.TrimPrefix(k, "test:assertion:")
		}
	}
	if other == "" {
		t.Fatalf("no second key set: %q", keys)
	}
	if err := raw.HSet(ctx, "test:assertion:"+other, valueField, stored).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Load(ctx, other); !errors.Is(err, ErrKeyNotOpened) || errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load of a value moved from another key: %v, want ErrKeyNotOpened (and not ErrNotExist)", err)
	}
	fresh := signerOn(t, sealedKeyStore(t, srv.addr(), nil, secretA), "EdDSA")
	if _, err := fresh.Assertion(ctx, sealClaims); !errors.Is(err, assertsign.ErrUnavailable) {
		t.Fatalf("a signer whose stored set was moved from another key: %v, want ErrUnavailable", err)
	}
	if got := rawValue(t, raw, other); got != stored {
		t.Fatal("the signer replaced a stored set it could not open")
	}

	// The same storage key under another prefix.
	pc := newClient(t, srv.addr(), func(c *Config) { c.KeyPrefix = "other:" })
	ps, err := NewKeyStore(pc, KeyStoreConfig{Sealer: sealerOf(t, secretA)})
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.HSet(ctx, "other:assertion:"+key, valueField, stored).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := ps.Load(ctx, key); !errors.Is(err, ErrKeyNotOpened) {
		t.Fatalf("Load of a value moved to another prefix: %v, want ErrKeyNotOpened", err)
	}

	// An unsealed value (as an earlier version wrote it) is refused.
	plain, err := st.Load(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.HSet(ctx, "test:assertion:"+key, valueField, plain).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Load(ctx, key); !errors.Is(err, ErrKeyNotOpened) {
		t.Fatalf("Load of an unsealed value: %v, want ErrKeyNotOpened", err)
	}

	// A value too large to seal within the Sealer's bound is refused, and
	// nothing is written.
	if err := st.Store(ctx, "big", make([]byte, session.MaxSealedLen)); err == nil {
		t.Fatal("Store of a value too large to open again succeeded")
	}
	if n, _ := raw.Exists(ctx, "test:assertion:big").Result(); n != 0 {
		t.Fatal("a refused value was written")
	}
}

// Session secret rotation: a set written with secret A is loaded by an
// instance configured (B, A), re-sealed with B, and then opens with B
// alone. An instance configured (B) alone before any re-seal fails closed
// and leaves the set alone.
func TestKeyStoreSecretRotation(t *testing.T) {
	srv := startRedis(t)
	raw := redis.NewClient(&redis.Options{Addr: srv.addr()})
	defer raw.Close()
	ctx := context.Background()
	signerA := signerOn(t, sealedKeyStore(t, srv.addr(), nil, secretA), "ES256")
	key := storedKeySet(t, raw, signerA)
	kid := signerA.Keys()[0].Kid
	sealedA := rawValue(t, raw, key)
	aad := keyAAD("test:assertion:" + key)

	// (B) alone, before a re-seal: fail closed, nothing overwritten.
	onlyB := sealedKeyStore(t, srv.addr(), nil, secretB)
	if _, err := onlyB.Load(ctx, key); !errors.Is(err, ErrKeyNotOpened) || errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("(B) loads a set sealed with A: %v, want ErrKeyNotOpened", err)
	}
	if _, err := signerOn(t, onlyB, "ES256").Assertion(ctx, sealClaims); !errors.Is(err, assertsign.ErrUnavailable) {
		t.Fatalf("a (B) signer on a set sealed with A: %v, want ErrUnavailable", err)
	}
	if rawValue(t, raw, key) != sealedA {
		t.Fatal("a (B) instance replaced the set it could not open")
	}

	// (B, A): loads, re-seals with B (logged, without the value).
	core, logs := observer.New(zapcore.InfoLevel)
	ba := sealedKeyStore(t, srv.addr(), zap.New(core), secretB, secretA)
	signerBA := signerOn(t, ba, "ES256")
	if _, err := signerBA.Assertion(ctx, sealClaims); err != nil {
		t.Fatalf("a (B, A) signer: %v", err)
	}
	if got := signerBA.Keys(); len(got) != 1 || got[0].Kid != kid {
		t.Fatalf("the (B, A) signer uses %+v, want the stored kid %s", got, kid)
	}
	sealedB := rawValue(t, raw, key)
	if sealedB == sealedA {
		t.Fatal("the set was not re-sealed")
	}
	if _, i, err := sealerOf(t, secretB).OpenWithIndex(sealedB, aad); err != nil || i != 0 {
		t.Fatalf("the re-sealed set does not open with B: %v", err)
	}
	if _, err := sealerOf(t, secretA).Open(sealedB, aad); err == nil {
		t.Fatal("the re-sealed set still opens with A")
	}
	if n := logs.FilterMessageSnippet("re-sealed with the first session secret").Len(); n != 1 {
		t.Fatalf("%d re-seal log entries, want 1", n)
	}
	for _, e := range logs.All() {
		for _, f := range e.Context {
			if strings.Contains(f.String, sealedA[:32]) || strings.Contains(f.String, sealedB[:32]) || strings.Contains(f.String, "PRIVATE") {
				t.Fatalf("a log entry holds the value: %s", e.Message)
			}
		}
	}
	// A second load by (B, A) opens with the first secret: no write.
	if _, err := ba.Load(ctx, key); err != nil || rawValue(t, raw, key) != sealedB {
		t.Fatalf("a set sealed with the first secret was written again (%v)", err)
	}

	// Now (B) alone loads it and signs with the same key.
	signerB := signerOn(t, sealedKeyStore(t, srv.addr(), nil, secretB), "ES256")
	if _, err := signerB.Assertion(ctx, sealClaims); err != nil {
		t.Fatalf("a (B) signer after the re-seal: %v", err)
	}
	if got := signerB.Keys(); len(got) != 1 || got[0].Kid != kid {
		t.Fatalf("the (B) signer uses %+v, want %s", got, kid)
	}
	if rawValue(t, raw, key) != sealedB {
		t.Fatal("the (B) signer rewrote the set")
	}
}

// A re-seal that races a newer write (a rotation by another instance
// between the read and the re-seal) leaves the newer value in place.
func TestKeyStoreResealDoesNotOverwriteNewerValue(t *testing.T) {
	srv := startRedis(t)
	raw := redis.NewClient(&redis.Options{Addr: srv.addr()})
	defer raw.Close()
	ctx := context.Background()
	const key = "edgeauth/assertion/k.json"
	if err := sealedKeyStore(t, srv.addr(), nil, secretA).Store(ctx, key, []byte("old set")); err != nil {
		t.Fatal(err)
	}
	rotator := sealedKeyStore(t, srv.addr(), nil, secretB, secretA)
	core, logs := observer.New(zapcore.InfoLevel)
	ba := sealedKeyStore(t, srv.addr(), zap.New(core), secretB, secretA)
	var newer string
	ba.beforeReseal = func() {
		if err := rotator.Store(ctx, key, []byte("newer set")); err != nil {
			t.Error(err)
		}
		newer = rawValue(t, raw, key)
	}
	got, err := ba.Load(ctx, key)
	if err != nil || string(got) != "old set" {
		t.Fatalf("Load = %q, %v; want the value it read", got, err)
	}
	if newer == "" || rawValue(t, raw, key) != newer {
		t.Fatal("the re-seal overwrote the newer value")
	}
	if v, err := sealedKeyStore(t, srv.addr(), nil, secretB).Load(ctx, key); err != nil || string(v) != "newer set" {
		t.Fatalf("after the race: %q, %v; want the newer set", v, err)
	}
	if logs.FilterMessageSnippet("not re-sealed").Len() != 1 {
		t.Fatalf("the skipped re-seal was not logged: %v", logs.All())
	}

	// Without a race the same Load re-seals.
	if err := sealedKeyStore(t, srv.addr(), nil, secretA).Store(ctx, key, []byte("old set")); err != nil {
		t.Fatal(err)
	}
	ba.beforeReseal = nil
	before := rawValue(t, raw, key)
	if _, err := ba.Load(ctx, key); err != nil || rawValue(t, raw, key) == before {
		t.Fatalf("no re-seal without a race (%v)", err)
	}

	// Redis gone between the read and the re-seal: the load still
	// succeeds (the re-seal is retried at the next load).
	if err := sealedKeyStore(t, srv.addr(), nil, secretA).Store(ctx, key, []byte("old set")); err != nil {
		t.Fatal(err)
	}
	ba.beforeReseal = srv.stop
	ctx2, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if got, err := ba.Load(ctx2, key); err != nil || string(got) != "old set" {
		t.Fatalf("Load with the re-seal failing: %q, %v", got, err)
	}
	if logs.FilterMessageSnippet("retried at the next load").Len() != 1 {
		t.Fatal("the failed re-seal was not logged")
	}
}
