package dpop

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// DefaultNonceWindow is how long one server nonce is handed out; a nonce is
// accepted during its window and the next one.
const DefaultNonceWindow = 5 * time.Minute

const nonceMACLen = 16

// Nonces makes and checks RFC 9449 §8 server nonces without state: a nonce
// is the number of a time window and an HMAC-SHA256 over it (and a scope,
// such as the provider name) under a key derived from a secret. Every
// instance of a fleet that shares the secret makes and accepts the same
// nonces, and they rotate with the window.
type Nonces struct {
	key    []byte
	scope  string
	window time.Duration
	now    func() time.Time
}

// NewNonces derives the nonce key from secret (HKDF-SHA256) for one scope.
// window <= 0 means DefaultNonceWindow; now nil means time.Now.
func NewNonces(secret []byte, scope string, window time.Duration, now func() time.Time) (*Nonces, error) {
	key, err := hkdf.Key(sha256.New, secret, nil, "edgeauth dpop nonce v1", 32)
	if err != nil {
		return nil, err
	}
	if window <= 0 {
		window = DefaultNonceWindow
	}
	if now == nil {
		now = time.Now
	}
	return &Nonces{key: key, scope: scope, window: window, now: now}, nil
}

func (n *Nonces) index(t time.Time) uint64 { return uint64(t.UnixNano() / int64(n.window)) }

func (n *Nonces) make(idx uint64) string {
	var buf [8 + nonceMACLen]byte
	binary.BigEndian.PutUint64(buf[:8], idx)
	mac := hmac.New(sha256.New, n.key)
	mac.Write([]byte(n.scope))
	mac.Write([]byte{0})
	mac.Write(buf[:8])
	copy(buf[8:], mac.Sum(nil))
	return b64.EncodeToString(buf[:])
}

// Current is the nonce to hand out now.
func (n *Nonces) Current() string { return n.make(n.index(n.now())) }

// Check reports whether nonce is the current one (fresh) or the previous
// window's (ok but not fresh: the client should be given Current).
func (n *Nonces) Check(nonce string) (ok, fresh bool) {
	raw, err := b64.DecodeString(nonce)
	if err != nil || len(raw) != 8+nonceMACLen {
		return false, false
	}
	idx := binary.BigEndian.Uint64(raw[:8])
	cur := n.index(n.now())
	if idx != cur && idx+1 != cur {
		return false, false
	}
	want, _ := b64.DecodeString(n.make(idx))
	if !hmac.Equal(raw, want) {
		return false, false
	}
	return true, idx == cur
}
