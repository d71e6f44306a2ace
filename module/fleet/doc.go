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
//
// Keys never contain a raw session ID, subject, sid or jti (they are
// SHA-256 hashed) and values never hold a usable token: a Redis dump is
// useless without the session secret. Every instance must use the same
// session secrets and key prefix.
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
