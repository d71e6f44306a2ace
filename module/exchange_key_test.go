package edgeauth

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/edgeauth/caddy-edgeauth/internal/redistest"
	"github.com/edgeauth/caddy-edgeauth/module/fleet"
	"github.com/edgeauth/caddy-edgeauth/module/identity"
	"github.com/edgeauth/caddy-edgeauth/module/session"
	"github.com/edgeauth/caddy-edgeauth/module/sts"
)

// These tests drive routeExchange.credentials over the real sts.Cache (and,
// for the fleet, the real Redis STSStore on a real redis-server). The STS
// itself is replaced by issuingSTS, which hands out credentials that name
// the token, role, session name and policy they were made for and a serial
// number, so that a test can tell whose credentials a caller received.

const (
	keyTestProviderARN = "acs:ram::1000000000000000:oidc-provider/idp"
	keyTestRole        = "acs:ram::1000000000000000:role/reader"
)

// issuingSTS is a security token service that issues distinct credentials
// on every exchange.
type issuingSTS struct {
	n atomic.Int32
	// gate, when set, holds every exchange until it is closed.
	gate    chan struct{}
	arrived chan struct{}
}

func (s *issuingSTS) Exchange(ctx context.Context, req sts.Request) (*sts.Credentials, error) {
	n := s.n.Add(1)
	if s.arrived != nil {
		s.arrived <- struct{}{}
	}
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return nil, &sts.Error{Kind: sts.Unavailable, Code: sts.CodeTimeout}
		}
	}
	return &sts.Credentials{
		AccessKeyID:     fmt.Sprintf("STS.%d", n),
		AccessKeySecret: "secret-" + req.Token,
		SecurityToken:   fmt.Sprintf("for token=%q role=%q session=%q policy=%q", req.Token, req.RoleARN, req.SessionName, req.Policy),
		Expiration:      time.Now().Add(time.Hour),
	}, nil
}

// ValidateRole accepts every role: the rig builds each route's exchange
// from an STS config that build already checked, and sets its roles itself.
func (s *issuingSTS) ValidateRole(string) error { return nil }

// NeedsRole is never asked (the rig does not provision routes).
func (s *issuingSTS) NeedsRole() bool { return true }

// keyCaller is one request's view: the route it hits, its identity and the
// request value the route's session name template reads.
type keyCaller struct {
	sts      STSConfig
	stsName  string
	use      STSUse
	claims   map[string]any
	provider string
	session  string // {test.session}
}

func baseKeyCaller() keyCaller {
	now := time.Now()
	return keyCaller{
		sts: STSConfig{
			Endpoint:        "http://127.0.0.1:1",
			OIDCProviderARN: keyTestProviderARN,
			RoleARN:         keyTestRole,
		},
		stsName: "alibaba",
		use:     STSUse{Name: "alibaba", RoleSessionName: "{test.session}"},
		claims: map[string]any{
			"iss":       "https://idp.example",
			"sub":       "user-1",
			"aud":       []any{"client-a", "client-b"},
			"azp":       "client-a",
			"client_id": "client-a",
			"groups":    []any{"readers"},
			"iat":       now.Unix(),
			"exp":       now.Add(time.Hour).Unix(),
			"jti":       "jti-1",
		},
		provider: "demo",
		session:  "sess",
	}
}

// with returns a copy of c changed by f (claims are copied first).
func (c keyCaller) with(f func(*keyCaller)) keyCaller {
	cl := make(map[string]any, len(c.claims))
	for k, v := range c.claims {
		cl[k] = v
	}
	c.claims = cl
	f(&c)
	return c
}

func (c keyCaller) identity() *identity.Identity {
	id := &identity.Identity{Provider: c.provider, Claims: c.claims, Expiry: time.Now().Add(time.Hour)}
	id.Subject, _ = c.claims["sub"].(string)
	id.Issuer, _ = c.claims["iss"].(string)
	// A token that is distinct per identity, as a real one would be.
	id.Token = fmt.Sprintf("h.%x.s", fmt.Sprint(c.provider, c.claims))
	return id
}

// keyRig builds route exchanges that all use one credential cache (local)
// or one Redis (fleet), so that only the cache key can keep callers apart.
type keyRig struct {
	t      *testing.T
	issuer *issuingSTS
	shared *sts.Cache // local: the one cache every route uses
	redis  string     // fleet: the Redis every route's own cache shares
	prefix string
}

func (k *keyRig) route(c keyCaller) *routeExchange {
	k.t.Helper()
	var store sts.SharedStore
	if k.redis != "" {
		cl, err := fleet.New(fleet.Config{Addrs: []string{k.redis}, KeyPrefix: k.prefix})
		if err != nil {
			k.t.Fatal(err)
		}
		k.t.Cleanup(func() { _ = cl.Close() })
		sealer, err := session.NewSealer([][]byte{[]byte("0123456789abcdef0123456789abcdef-key-test")})
		if err != nil {
			k.t.Fatal(err)
		}
		if store, err = fleet.NewSTSStore(cl, sealer); err != nil {
			k.t.Fatal(err)
		}
	}
	cfg := c.sts
	svc, err := cfg.build(c.stsName, store)
	if err != nil {
		k.t.Fatal(err)
	}
	svc.exchanger = k.issuer
	if k.shared != nil {
		svc.cache = k.shared
	}
	rx := &routeExchange{svc: svc, roleARN: c.use.RoleARN, sessionName: c.use.RoleSessionName, roles: c.use.RoleFromClaims}
	if rx.roleARN == "" {
		rx.roleARN = svc.roleARN
	}
	if c.use.Source == sourceWorkload {
		rx.workload = true
	}
	return rx
}

func (k *keyRig) get(c keyCaller) (*sts.Credentials, error) {
	k.t.Helper()
	repl := caddy.NewReplacer()
	id := c.identity()
	identity.Provide(repl, id)
	repl.Set("test.session", c.session)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	creds, _, err := k.route(c).credentials(ctx, id, repl)
	return creds, err
}

// workloadToken writes a JWT-shaped token file for `source workload`.
func workloadToken(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte("eyJhbGciOiJub25lIn0.eyJzdWIiOiJndyJ9.c2ln"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// keyCases are pairs of callers: each differs from the base in exactly one
// thing that distinguishes callers (never share), or only in what does not
// (share).
func keyCases(t *testing.T) []struct {
	name  string
	other keyCaller
	share bool
} {
	base := baseKeyCaller()
	tokenFile := workloadToken(t)
	return []struct {
		name  string
		other keyCaller
		share bool
	}{
		{"provider", base.with(func(c *keyCaller) { c.provider = "other" }), false},
		{"iss", base.with(func(c *keyCaller) { c.claims["iss"] = "https://idp2.example" }), false},
		{"sub", base.with(func(c *keyCaller) { c.claims["sub"] = "user-2" }), false},
		{"aud value", base.with(func(c *keyCaller) { c.claims["aud"] = []any{"client-a", "client-c"} }), false},
		{"aud one more", base.with(func(c *keyCaller) { c.claims["aud"] = []any{"client-a", "client-b", "client-c"} }), false},
		{"aud one fewer", base.with(func(c *keyCaller) { c.claims["aud"] = "client-a" }), false},
		{"azp", base.with(func(c *keyCaller) { c.claims["azp"] = "client-b" }), false},
		{"azp absent", base.with(func(c *keyCaller) { delete(c.claims, "azp") }), false},
		{"client_id", base.with(func(c *keyCaller) { c.claims["client_id"] = "client-b" }), false},
		{"other claim the STS may read", base.with(func(c *keyCaller) { c.claims["groups"] = []any{"admins"} }), false},
		{"separator in iss and sub", base.with(func(c *keyCaller) {
			c.claims["iss"] = "https://idp.example\x00user-1"
			c.claims["sub"] = "\x00"
		}), false},
		{"role", base.with(func(c *keyCaller) { c.use.RoleARN = "acs:ram::1000000000000000:role/admin" }), false},
		{"role from claim", base.with(func(c *keyCaller) {
			c.use.RoleFromClaims = []RoleFromClaim{{Claim: "groups", Value: "readers", RoleARN: "acs:ram::1000000000000000:role/admin"}}
		}), false},
		{"oidc provider ARN", base.with(func(c *keyCaller) {
			c.sts.OIDCProviderARN = "acs:ram::1000000000000000:oidc-provider/idp2"
		}), false},
		{"policy", base.with(func(c *keyCaller) { c.sts.Policy = `{"Version":"1","Statement":[]}` }), false},
		{"session name", base.with(func(c *keyCaller) { c.session = "sess2" }), false},
		{"sts name", base.with(func(c *keyCaller) { c.stsName = "alibaba2" }), false},
		{"sts type", base.with(func(c *keyCaller) {
			c.sts = STSConfig{Type: stsTokenExchange, TokenEndpoint: "http://127.0.0.1:1/token", ClientID: "gw", RoleARN: keyTestRole}
		}), false},
		{"sts endpoint", base.with(func(c *keyCaller) { c.sts.Endpoint = "http://127.0.0.2:1" }), false},
		{"source workload", base.with(func(c *keyCaller) {
			c.sts.TokenFile = tokenFile
			c.use.Source = sourceWorkload
		}), false},
		// The same caller with a newer token, or its audiences in another order.
		{"new token of the same caller", base.with(func(c *keyCaller) {
			c.claims["iat"] = time.Now().Add(time.Minute).Unix()
			c.claims["exp"] = time.Now().Add(2 * time.Hour).Unix()
			c.claims["jti"] = "jti-2"
		}), true},
		{"aud in another order", base.with(func(c *keyCaller) { c.claims["aud"] = []any{"client-b", "client-a"} }), true},
	}
}

// TestFinding2STSCacheKeySeparatesEveryField: two callers that differ in
// exactly one thing that distinguishes them never share credentials, in the
// local cache and through the fleet's Redis; a newer token of the same
// caller does.
func TestFinding2STSCacheKeySeparatesEveryField(t *testing.T) {
	rs := redistest.Start(t)
	for _, path := range []string{"local", "fleet"} {
		for i, tc := range keyCases(t) {
			t.Run(path+"/"+tc.name, func(t *testing.T) {
				rig := &keyRig{t: t, issuer: &issuingSTS{}}
				if path == "local" {
					rig.shared = sts.NewCache(sts.CacheConfig{})
				} else {
					rig.redis, rig.prefix = rs.Addr(), fmt.Sprintf("k%d:", i)
				}
				a, err := rig.get(baseKeyCaller())
				if err != nil {
					t.Fatal(err)
				}
				b, err := rig.get(tc.other)
				if err != nil {
					t.Fatal(err)
				}
				shared := a.AccessKeyID == b.AccessKeyID
				if shared != tc.share {
					t.Fatalf("shared credentials = %v, want %v (%d exchanges)", shared, tc.share, rig.issuer.n.Load())
				}
				if !tc.share && b.AccessKeySecret != "secret-"+tc.other.identity().Token && !tc.other.isWorkload() {
					t.Fatalf("the second caller got credentials made from another token")
				}
			})
		}
	}
}

func (c keyCaller) isWorkload() bool { return c.use.Source == sourceWorkload }

// TestFinding2STSNoSubjectRefused: tokens without `sub` (client-credentials
// style) are never exchanged, so two such callers can never share
// credentials; the refusal is 401 invalid_token.
func TestFinding2STSNoSubjectRefused(t *testing.T) {
	for _, path := range []string{"local", "fleet"} {
		t.Run(path, func(t *testing.T) {
			rig := &keyRig{t: t, issuer: &issuingSTS{}}
			if path == "local" {
				rig.shared = sts.NewCache(sts.CacheConfig{})
			} else {
				rig.redis, rig.prefix = redistest.Start(t).Addr(), "nosub:"
			}
			svcA := baseKeyCaller().with(func(c *keyCaller) {
				delete(c.claims, "sub")
				c.claims["azp"], c.claims["client_id"] = "service-a", "service-a"
			})
			svcB := svcA.with(func(c *keyCaller) { c.claims["azp"], c.claims["client_id"] = "service-b", "service-b" })
			var got []*sts.Credentials
			for _, c := range []keyCaller{svcA, svcB} {
				creds, err := rig.get(c)
				var se *sts.Error
				if !errors.As(err, &se) || se.Kind != sts.InvalidToken || se.Code != "edgeauth.NoSubject" {
					t.Errorf("caller without sub: err %v, creds %v; want an InvalidToken edgeauth.NoSubject refusal", err, creds)
				}
				got = append(got, creds)
			}
			if got[0] != nil && got[1] != nil && got[0].AccessKeyID == got[1].AccessKeyID {
				t.Errorf("two callers without sub received the same credentials %s", got[0].AccessKeyID)
			}
			if n := rig.issuer.n.Load(); n != 0 {
				t.Errorf("%d exchanges for callers without sub, want 0", n)
			}
		})
	}
}

// TestFinding2STSConcurrentFirstRequestsNotCrossDelivered: two identities
// that differ only in their client (azp, client_id, aud) make their first
// requests at the same moment; each exchange is held until both have
// started, and each caller receives the credentials made from its own token.
func TestFinding2STSConcurrentFirstRequestsNotCrossDelivered(t *testing.T) {
	for _, path := range []string{"local", "fleet"} {
		t.Run(path, func(t *testing.T) {
			iss := &issuingSTS{gate: make(chan struct{}), arrived: make(chan struct{}, 2)}
			rig := &keyRig{t: t, issuer: iss}
			if path == "local" {
				rig.shared = sts.NewCache(sts.CacheConfig{})
			} else {
				rig.redis, rig.prefix = redistest.Start(t).Addr(), "race:"
			}
			a := baseKeyCaller()
			b := a.with(func(c *keyCaller) {
				c.claims["azp"], c.claims["client_id"], c.claims["aud"] = "client-z", "client-z", "client-z"
			})
			var wg sync.WaitGroup
			got := make([]*sts.Credentials, 2)
			errs := make([]error, 2)
			for i, c := range []keyCaller{a, b} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					got[i], errs[i] = rig.get(c)
				}()
			}
			// Both exchanges must start before either ends: one shared flight
			// would start only one.
			timeout := time.After(2 * time.Second)
			for n := 0; n < 2; n++ {
				select {
				case <-iss.arrived:
				case <-timeout:
					n = 2
				}
			}
			close(iss.gate)
			wg.Wait()
			for i, c := range []keyCaller{a, b} {
				if errs[i] != nil {
					t.Fatalf("caller %d: %v", i, errs[i])
				}
				if want := "secret-" + c.identity().Token; got[i].AccessKeySecret != want {
					t.Errorf("caller %d received credentials made from another caller's token", i)
				}
			}
			if n := iss.n.Load(); n != 2 {
				t.Errorf("%d exchanges for two identities, want 2", n)
			}
		})
	}
}

// TestSiblingRoleFromClaimNotShared (issue 9, cache keys): role_from_claim
// picks the role per request, and the role is part of the credential key:
// a caller that maps to the reader role, coming after one that mapped to
// the admin role, never receives the admin role's credentials, even when
// nothing else about the two differs but the claim.
func TestSiblingRoleFromClaimNotShared(t *testing.T) {
	const admin = "acs:ram::1000000000000000:role/admin"
	rig := &keyRig{t: t, issuer: &issuingSTS{}, shared: sts.NewCache(sts.CacheConfig{})}
	rules := []RoleFromClaim{{Claim: "groups", Value: "admins", RoleARN: admin}, {Claim: "groups", Value: "readers", RoleARN: keyTestRole}}
	a := baseKeyCaller().with(func(c *keyCaller) { c.use.RoleFromClaims = rules; c.claims["groups"] = []any{"admins"} })
	b := a.with(func(c *keyCaller) { c.claims["groups"] = []any{"readers"} })
	for _, c := range []keyCaller{a, b, a, b} {
		repl := caddy.NewReplacer()
		id := c.identity()
		// Same token for both, so that only the claim-picked role can keep
		// them apart in the credentials.
		id.Token = "h.p.s"
		repl.Set("test.session", c.session)
		creds, role, err := rig.route(c).credentials(context.Background(), id, repl)
		if err != nil {
			t.Fatal(err)
		}
		want := keyTestRole
		if c.claims["groups"].([]any)[0] == "admins" {
			want = admin
		}
		if role != want || !strings.Contains(creds.SecurityToken, fmt.Sprintf("role=%q", want)) {
			t.Fatalf("groups %v: role %s, credentials %q; want %s", c.claims["groups"], role, creds.SecurityToken, want)
		}
	}
	if n := rig.issuer.n.Load(); n != 2 {
		t.Errorf("%d exchanges for two roles, want 2", n)
	}
}
