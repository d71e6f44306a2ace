// Package fleet holds the building blocks for running several gateway
// instances behind one load balancer, sharing state through Redis
// (github.com/redis/go-redis/v9; a single server, Sentinel or Cluster):
//
//   - Store, a session.Store: the cookie holds only the random session ID,
//     sealed with the session secret and bound to the cookie name; the
//     session lives in Redis under <prefix>session:<sha256(id)>, sealed
//     (XChaCha20-Poly1305 via session.Sealer, bound to its key) with a TTL
//     of min(NotAfter − now, lifetime), and indexed by (iss, sid) and
//     (iss, sub) in sets <prefix>sid:… and <prefix>sub:… with the same TTL.
//     Clear deletes it, so a logout on one instance ends it on all.
//     Writes are conditional (see "Conditional writes" below).
//   - RefreshLock, a login.RefreshCoordinator: one refresh per session
//     across the fleet (lock <prefix>lock:refresh:<sha256(id)>, SET NX PX,
//     released by a compare-and-delete script).
//   - STSStore, an sts.SharedStore: STS credentials shared per cache key,
//     sealed, with a TTL ending the refresh margin before Expiration (and
//     never after the source token's expiry); one exchange per key across
//     the fleet (lock <prefix>lock:sts:…).
//   - BackChannel: OpenID Connect Back-Channel Logout 1.0, ending the
//     sessions of a sid or sub on every instance; jti replay protection in
//     <prefix>jti:… .
//   - KeyStore, a certmagic.Storage for the assertion signing keys when the
//     session store is Redis: one hash per storage key under
//     <prefix>assertion:<key>, and a lock <prefix>assertion-lock:<name>
//     (SET NX PX, renewed while held, compare-and-delete release). Values
//     are sealed with the session Sealer, bound to their key; its writes
//     are plain (the lock serialises them, see keystore.go) except the
//     re-seal after a secret rotation, a compare-and-set (keyseal.go).
//
// # Conditional writes
//
// Nothing is written back unconditionally, so a logout always wins over a
// refresh or login in flight, in every interleaving:
//
//   - a login is created only where no value is (SET-if-absent script);
//   - a refresh is written back by the RefreshLock only if the key still
//     holds exactly the sealed value the refresh started from
//     (compare-and-set script; sealed values carry a random nonce, so the
//     value is its own version). A session deleted meanwhile stays deleted,
//     and one replaced by a newer refresh (after this holder's lock
//     expired) is not overwritten. Store.Save of a refreshed session only
//     checks that it still exists (ErrSessionEnded otherwise);
//   - logout deletes the session; back-channel logout first marks the sid
//     (<prefix>ended:sid:…; or the sub, with the logout token's iat, in
//     <prefix>ended:sub:…), then replaces every indexed session by a
//     tombstone. A login or refresh indexes its session before writing it
//     and checks the marks in between, so it is either found by the logout
//     or sees the mark, and then stores nothing;
//   - the refresh and STS locks are released by compare-and-delete on the
//     holder's random token; shared STS credentials replace stored ones
//     only when they stay valid longer; a back-channel logout that failed
//     forgets only the jti record it made.
//
// # Redis Cluster and Sentinel
//
// Every command and script touches a single key (pipelines hold several
// commands, each on its own key), so the store works on Redis Cluster
// without hash tags and the keys spread over all masters; the cross-key
// order above holds because each step waits for the previous reply, which
// is true across masters. Audited per command: session GET/DEL and the
// create, replace and end scripts (the session key); the index script and
// SREM (one index set); the mark script and GETs (one mark each); the
// lock SET NX and compare-and-delete (the lock); SET NX and
// compare-and-delete of a jti; GET and the set-if-longer script of STS
// credentials; HSET, HGET, HMGET, DEL and the re-seal script of one
// KeyStore key, and SCAN
// (no key; run on every master). A command or script added later that touches several keys
// must put them in one slot with a hash tag ({…}). TestCluster and
// TestSentinelFailoverKeepsServing run the store against real servers
// (redistest.StartCluster, redistest.StartSentinel). During a failover
// commands fail (ErrUnavailable: 503 with Retry-After) until the new
// master is reached; a write the old master acknowledged but had not
// replicated is lost with it (Redis replication is asynchronous).
//
// Keys never contain a raw session ID, subject, sid or jti (they are
// SHA-256 hashed) and values never hold a usable token: a Redis dump is
// useless without the session secret; KeyStore's values (the assertion
// private keys) are sealed too, and its keys are storage paths. Every
// instance must use the same session secrets and key prefix.
//
// # Near-cache
//
// With StoreConfig.NearCache each instance answers sessions it has read
// from memory, with no Redis command, while its invalidation link is
// proven current: the scripts that replace or end a session PUBLISH its
// key on <prefix>invalidate (inside the same script: only a successful
// write publishes), every instance subscribes and drops its copy, and a
// heartbeat each instance sends through its subscription (a PING; on
// Cluster a message published on every master) must have come back within
// the lease (500ms) for copies to be served. A
// revocation therefore reaches every instance within the lease whatever
// happens to the link; a lost link flushes the copies and recovers by
// itself. Fills that an invalidation overtook are refused (a per-key
// stripe counter and a flush epoch, read before the Redis read). Copies
// end at the session's NotAfter or the Redis TTL, whichever is first; the
// cache is bounded in entries and bytes. See invalidator for the ordering
// argument, and for PUBLISH rather than SPUBLISH on Cluster.
//
// # Failure behaviour
//
// Commands have short timeouts (500 ms dial/read/write, 1 s pool wait, one
// retry), so a request never hangs on Redis. After a failure the Client
// answers ErrUnavailable at once for RetryInterval (1 s) and then tries
// again: recovery needs no restart. Store.Load then returns an
// ErrUnavailable error, never session.ErrNoSession: answer 503 with
// Retry-After (RetryAfter(err)). StoreConfig.Fallback "cookie" degrades
// to plain cookie sessions instead (see FallbackCookie for what that
// gives up). Shared STS credentials fail open: an instance that cannot
// reach Redis exchanges on its own. Back-channel logout answers 503 (the
// provider may retry; the jti is not consumed).
//
// # Wiring
//
//	c, _ := fleet.New(fleet.Config{Addrs: …, Password: …, DB: …, TLS: …, KeyPrefix: …})
//	store, _ := fleet.NewStore(c, fleet.StoreConfig{Sealer: sealer, Cookie: opts, Lifetime: lifetime})
//	flowCfg.Store = store
//	flowCfg.RefreshCoordinator = fleet.NewRefreshLock(store, fleet.RefreshLockConfig{})
//	stsCfg.Shared, _ = fleet.NewSTSStore(c, sealer)
//	logout := token.NewVerifier(name, fleet.LogoutTokenRules(token.IDTokenRules(rules, clientID)), keys)
//	bc, _ := fleet.NewBackChannel(store, fleet.BackChannelConfig{Verifier: logout})
//	// serve bc at <login prefix>backchannel_logout
//
// Close the Client when the configuration is unloaded.
package fleet
