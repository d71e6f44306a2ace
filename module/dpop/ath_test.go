package dpop

import (
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// TestAthFromPrecomputedHash: a caller that has hashed the token already
// (the token cache's key) passes the hash; ath is checked against it, in
// exactly the string form accessTokenHash gives, and nothing else.
func TestAthFromPrecomputedHash(t *testing.T) {
	k := ecKey(t)
	req := Request{Method: "GET", URL: "https://api.example/res", AccessToken: "the.access.token", JKT: Thumbprint(&k.PublicKey)}
	sum := sha256.Sum256([]byte(req.AccessToken))
	other := sha256.Sum256([]byte("another.access.token"))
	c := newTestChecker(t, nil)
	jti := 0
	check := func(ath string, hash *[sha256.Size]byte) *Error {
		t.Helper()
		jti++
		h, cl := proofParts(k, req, strings.Repeat("j", jti))
		cl["ath"] = ath
		r := req
		r.TokenSHA256 = hash
		_, e := c.Check(bg, sign(t, jwt.SigningMethodES256, k, h, cl), r)
		return e
	}
	good := accessTokenHash(req.AccessToken)
	if e := check(good, &sum); e != nil {
		t.Fatalf("right ath with the precomputed hash: %v", e)
	}
	if e := check(good, nil); e != nil {
		t.Fatalf("right ath, hashed by the checker: %v", e)
	}
	// The precomputed hash is what counts: a hash of another token refuses
	// a proof made for AccessToken.
	if e := check(good, &other); e == nil || e.Detail != "wrong_token" {
		t.Fatalf("proof checked against another token's hash: %v", e)
	}
	// Other spellings of the same bytes are not the ath.
	for _, ath := range []string{
		good + "=",
		strings.NewReplacer("-", "+", "_", "/").Replace(good) + "=",
		strings.ToUpper(good),
		good[:len(good)-1],
		good + "A",
		" " + good,
	} {
		if ath == good {
			continue
		}
		for _, hash := range []*[sha256.Size]byte{&sum, nil} {
			if e := check(ath, hash); e == nil || e.Detail != "wrong_token" {
				t.Fatalf("ath %q (precomputed %v) accepted or refused for another reason: %v", ath, hash != nil, e)
			}
		}
	}
}

// TestReplayKeyUnchanged: replay keys are shared by every instance of a
// fleet through Redis, so their derivation (SHA-256 of jkt, a zero byte and
// the jti, first 16 bytes) must not change between versions.
func TestReplayKeyUnchanged(t *testing.T) {
	for _, tc := range []struct{ jkt, jti string }{
		{"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I", "e1j3V_bKic8-LAEB"},
		{"", ""},
		{strings.Repeat("t", 43), strings.Repeat("j", maxJTILen)},
		{strings.Repeat("t", 400), strings.Repeat("j", 400)}, // past the stack buffer
	} {
		h := sha256.New()
		h.Write([]byte(tc.jkt))
		h.Write([]byte{0})
		h.Write([]byte(tc.jti))
		var want ReplayKey
		copy(want[:], h.Sum(nil))
		if got := replayKey(tc.jkt, tc.jti); got != want {
			t.Errorf("replayKey(%d-byte jkt, %d-byte jti) = %x, want %x", len(tc.jkt), len(tc.jti), got, want)
		}
	}
	if replayKey("ab", "c") == replayKey("a", "bc") {
		t.Error("the separator does not separate")
	}
}
