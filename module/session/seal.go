// Package session keeps a browser's login in AEAD-sealed, chunked cookies and
// defines the Store interface that a server-side store can implement later.
package session

import (
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/hkdf"
)

// MinSecretLen is the shortest secret NewSealer accepts, in bytes.
const MinSecretLen = 32

// MaxSealedLen caps the length of a sealed string that Open will even try to
// decode, so an oversize cookie is refused before any work is done.
const MaxSealedLen = MaxChunks * chunkTarget

// Sealed layout (before base64url without padding):
//
//	version (1 byte) | key id (4 bytes) | nonce (24 bytes) | ciphertext+tag
//
// The AEAD plaintext is an 8-byte big-endian Unix expiry (0 = none) followed
// by the caller's plaintext; the AEAD additional data is version | key id |
// the caller's aad, so neither the header nor the binding can be altered.
const (
	sealVersion = 1
	keyIDLen    = 4
	headerLen   = 1 + keyIDLen
	expiryLen   = 8
	// keyInfo and keyIDInfo are the fixed HKDF contexts. Changing them
	// invalidates every cookie ever issued.
	keyInfo   = "edgeauth session sealing key v1"
	keyIDInfo = "edgeauth session key id v1"
)

// ErrInvalidSealed means a sealed value is malformed, was tampered with, was
// sealed for another purpose (AAD), or by a key no longer configured.
var ErrInvalidSealed = errors.New("session: sealed value is invalid or was not sealed by a configured secret")

// ErrExpiredSealed means a sealed value authenticated but its embedded expiry
// has passed.
var ErrExpiredSealed = errors.New("session: sealed value has expired")

type sealKey struct {
	id   [keyIDLen]byte
	aead cipher.AEAD
}

// Sealer encrypts and authenticates small values with XChaCha20-Poly1305.
// The first secret seals; every secret opens, which allows rotation: put the
// new secret first and keep the old one until old cookies have expired.
// A Sealer is safe for concurrent use.
type Sealer struct {
	keys []sealKey
}

// NewSealer derives one key per secret with HKDF-SHA256. Each secret must be
// at least MinSecretLen bytes long.
func NewSealer(secrets [][]byte) (*Sealer, error) {
	if len(secrets) == 0 {
		return nil, errors.New("session: no secret given; configure at least one session secret of 32 bytes or more")
	}
	s := &Sealer{}
	for i, secret := range secrets {
		if len(secret) < MinSecretLen {
			return nil, fmt.Errorf("session: secret #%d is %d bytes long; session secrets must be at least %d bytes (for example 32 random bytes, base64-encoded)", i+1, len(secret), MinSecretLen)
		}
		key := make([]byte, chacha20poly1305.KeySize)
		if _, err := io.ReadFull(hkdf.New(sha256.New, secret, nil, []byte(keyInfo)), key); err != nil {
			return nil, fmt.Errorf("session: deriving key #%d: %w", i+1, err)
		}
		var k sealKey
		if _, err := io.ReadFull(hkdf.New(sha256.New, secret, nil, []byte(keyIDInfo)), k.id[:]); err != nil {
			return nil, fmt.Errorf("session: deriving key id #%d: %w", i+1, err)
		}
		aead, err := chacha20poly1305.NewX(key)
		if err != nil {
			return nil, fmt.Errorf("session: key #%d: %w", i+1, err)
		}
		k.aead = aead
		s.keys = append(s.keys, k)
	}
	return s, nil
}

// RandomSecret returns 32 fresh random bytes, for when no secret is
// configured. Cookies sealed with it die with the process, and several
// instances will not understand each other's cookies: the caller should warn.
func RandomSecret() []byte {
	b := make([]byte, MinSecretLen)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it crashes the program instead)
	return b
}

// Seal encrypts plaintext bound to aad (for example the cookie name) and
// returns it as unpadded base64url. The value never expires by itself.
func (s *Sealer) Seal(plaintext, aad []byte) string {
	return s.SealUntil(plaintext, aad, time.Time{})
}

// SealUntil is Seal with an expiry embedded under the AEAD: Open refuses the
// value once notAfter has passed, even if a browser kept the cookie. A zero
// notAfter means no expiry.
func (s *Sealer) SealUntil(plaintext, aad []byte, notAfter time.Time) string {
	k := s.keys[0]
	var exp int64
	if !notAfter.IsZero() {
		exp = max(notAfter.Unix(), 1)
	}
	out := make([]byte, headerLen+chacha20poly1305.NonceSizeX, headerLen+chacha20poly1305.NonceSizeX+expiryLen+len(plaintext)+k.aead.Overhead())
	out[0] = sealVersion
	copy(out[1:headerLen], k.id[:])
	nonce := out[headerLen:]
	_, _ = rand.Read(nonce)
	inner := make([]byte, expiryLen, expiryLen+len(plaintext))
	binary.BigEndian.PutUint64(inner, uint64(exp))
	inner = append(inner, plaintext...)
	out = k.aead.Seal(out, nonce, inner, additionalData(out[:headerLen], aad))
	return base64.RawURLEncoding.EncodeToString(out)
}

// Open authenticates and decrypts a value made by Seal or SealUntil with the
// same aad, using the current time for the expiry check.
func (s *Sealer) Open(sealed string, aad []byte) ([]byte, error) {
	return s.OpenAt(sealed, aad, time.Now())
}

// OpenAt is Open with an explicit clock. It tries the key named in the header
// first and then every other configured key. Errors are ErrInvalidSealed or
// ErrExpiredSealed and never contain the input.
func (s *Sealer) OpenAt(sealed string, aad []byte, now time.Time) ([]byte, error) {
	pt, _, err := s.openAt(sealed, aad, now)
	return pt, err
}

// OpenWithIndex is Open that also says which configured secret opened the
// value: 0 for the first (the one Seal uses), i for the (i+1)-th. A caller
// that keeps sealed values for long can re-seal one with index > 0, so it
// still opens once the older secret is removed. The errors are Open's; the
// index is then -1.
func (s *Sealer) OpenWithIndex(sealed string, aad []byte) ([]byte, int, error) {
	return s.openAt(sealed, aad, time.Now())
}

// openAt opens sealed and returns the index of the key that opened it.
func (s *Sealer) openAt(sealed string, aad []byte, now time.Time) ([]byte, int, error) {
	if len(sealed) > MaxSealedLen {
		return nil, -1, ErrInvalidSealed
	}
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil {
		return nil, -1, ErrInvalidSealed
	}
	if len(raw) < headerLen+chacha20poly1305.NonceSizeX+expiryLen+chacha20poly1305.Overhead || raw[0] != sealVersion {
		return nil, -1, ErrInvalidSealed
	}
	header := raw[:headerLen]
	nonce := raw[headerLen : headerLen+chacha20poly1305.NonceSizeX]
	ct := raw[headerLen+chacha20poly1305.NonceSizeX:]
	ad := additionalData(header, aad)
	var inner []byte
	opened, index := false, -1
	// The key id is a hint: try the matching key first, then all others, so
	// a collision or an id scheme change never locks a valid cookie out.
	for pass := 0; pass < 2 && !opened; pass++ {
		for i, k := range s.keys {
			match := string(k.id[:]) == string(header[1:])
			if (pass == 0) != match {
				continue
			}
			if pt, err := k.aead.Open(nil, nonce, ct, ad); err == nil {
				inner, opened, index = pt, true, i
				break
			}
		}
	}
	if !opened {
		return nil, -1, ErrInvalidSealed
	}
	exp := int64(binary.BigEndian.Uint64(inner[:expiryLen]))
	if exp != 0 && now.Unix() >= exp {
		return nil, -1, ErrExpiredSealed
	}
	return inner[expiryLen:], index, nil
}

func additionalData(header, aad []byte) []byte {
	ad := make([]byte, 0, len(header)+len(aad))
	ad = append(ad, header...)
	return append(ad, aad...)
}
