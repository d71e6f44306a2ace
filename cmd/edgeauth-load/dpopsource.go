package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// dpopClient is scenario 8's DPoP client: one ES256 key, a token the demo
// provider bound to it (cnf.jkt), and a fresh proof for every request.
type dpopClient struct {
	key    *ecdsa.PrivateKey
	header string // base64url of the proof's JOSE header (always the same)
	auth   string // Authorization header value: "DPoP <token>"
	ath    string
	prefix string // jti prefix, random per run
	n      atomic.Uint64
	// signed and signTime measure the generator's own cost: proofs made
	// and the wall time spent making them.
	signed   atomic.Uint64
	signTime atomic.Int64
}

// newDPoPClient makes the key and has the demo provider mint a bound token.
func newDPoPClient(w *world) (*dpopClient, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	pt, err := key.PublicKey.Bytes()
	if err != nil {
		return nil, err
	}
	enc := base64.RawURLEncoding.EncodeToString
	x, y := enc(pt[1:33]), enc(pt[33:])
	hdr, _ := json.Marshal(map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": map[string]string{"kty": "EC", "crv": "P-256", "x": x, "y": y}})
	// RFC 7638: the required members in lexicographic order, no spaces.
	sum := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`))
	tok, err := w.idp.MintFor(loadUser, loadScopes, demoidp.WithJKT(enc(sum[:])))
	if err != nil {
		return nil, err
	}
	ath := sha256.Sum256([]byte(tok))
	p := make([]byte, 6)
	_, _ = rand.Read(p)
	return &dpopClient{key: key, header: enc(hdr), auth: "DPoP " + tok, ath: enc(ath[:]), prefix: hex.EncodeToString(p) + "-"}, nil
}

// proof signs a fresh proof for GET htu.
func (c *dpopClient) proof(htu string) string {
	start := time.Now()
	enc := base64.RawURLEncoding.EncodeToString
	jti := c.prefix + strconv.FormatUint(c.n.Add(1), 36)
	payload := `{"jti":"` + jti + `","htm":"GET","htu":"` + htu + `","iat":` + strconv.FormatInt(start.Unix(), 10) + `,"ath":"` + c.ath + `"}`
	input := c.header + "." + enc([]byte(payload))
	sig, err := jwt.SigningMethodES256.Sign(input, c.key)
	if err != nil {
		panic(err) // an ECDSA key of our own never fails to sign
	}
	c.signed.Add(1)
	c.signTime.Add(int64(time.Since(start)))
	return input + "." + enc(sig)
}

// signCost is the generator's mean wall time per proof so far.
func (c *dpopClient) signCost() time.Duration {
	n := c.signed.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(c.signTime.Load() / int64(n))
}

// dpopSource sends the bound token with a fresh proof on every request
// (scenario 8). The bare side gets the same requests (bare Caddy checks
// nothing), so both sides pay the generator's signing alike.
type dpopSource struct {
	c   *dpopClient
	htu string // the URL the requests go to, with path "/"
}

// Next implements Source.
func (s dpopSource) Next(hdr http.Header, _, _ int, _ bool) int {
	setHeader(hdr, "Authorization", s.c.auth)
	setHeader(hdr, "Dpop", s.c.proof(s.htu))
	return 200
}

// prepareDPoP builds scenario 8's client and sources and checks that the
// setup enforces the binding: a fresh proof → 200 with identity headers
// upstream, the same proof again → 401 (replay), the bound token as Bearer
// → 401.
func (r *runner) prepareDPoP(ctx context.Context, sc *scenario) error {
	c, err := newDPoPClient(r.world)
	if err != nil {
		return err
	}
	htu := sc.edgeURL + "/"
	proof := c.proof(htu)
	checks := []expectation{
		{what: "DPoP-bound token with a fresh proof", hdr: map[string]string{"Authorization": c.auth, "DPoP": proof}, status: 200, minAuth: 1, maxAuth: -1},
		{what: "the same proof replayed", hdr: map[string]string{"Authorization": c.auth, "DPoP": proof}, status: 401},
		{what: "the bound token as a bearer token", hdr: map[string]string{"Authorization": "Bearer " + c.auth[len("DPoP "):]}, status: 401},
	}
	if err := enforce(ctx, setupBearer+" (DPoP)", sc.edgeURL, checks); err != nil {
		return err
	}
	sc.dpop = c
	sc.edge = dpopSource{c: c, htu: htu}
	sc.bare = dpopSource{c: c, htu: htu}
	return nil
}
