package session

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

func secret(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func mustSealer(t testing.TB, secrets ...[]byte) *Sealer {
	t.Helper()
	s, err := NewSealer(secrets)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSealRoundTrip(t *testing.T) {
	s := mustSealer(t, secret(1))
	for _, pt := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte("session"), 500)} {
		sealed := s.Seal(pt, []byte("cookie-a"))
		if strings.ContainsAny(sealed, "+/=") {
			t.Fatalf("sealed value is not unpadded base64url: %q", sealed)
		}
		got, err := s.Open(sealed, []byte("cookie-a"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if !bytes.Equal(got, pt) {
			t.Fatalf("round trip changed the plaintext")
		}
	}
	a, b := s.Seal([]byte("same"), nil), s.Seal([]byte("same"), nil)
	if a == b {
		t.Fatal("two seals of the same plaintext are identical: nonce is not random")
	}
}

func TestSealRotation(t *testing.T) {
	oldS := mustSealer(t, secret(1))
	rotated := mustSealer(t, secret(2), secret(1))
	sealedOld := oldS.Seal([]byte("old"), nil)
	if got, err := rotated.Open(sealedOld, nil); err != nil || string(got) != "old" {
		t.Fatalf("rotated sealer cannot open a value sealed by the old secret: %v", err)
	}
	sealedNew := rotated.Seal([]byte("new"), nil)
	if _, err := oldS.Open(sealedNew, nil); err == nil {
		t.Fatal("new values must be sealed with the first (new) secret, but the old sealer opened one")
	}
	newOnly := mustSealer(t, secret(2))
	if got, err := newOnly.Open(sealedNew, nil); err != nil || string(got) != "new" {
		t.Fatalf("new secret cannot open its own value: %v", err)
	}
	if _, err := newOnly.Open(sealedOld, nil); !errors.Is(err, ErrInvalidSealed) {
		t.Fatalf("retired secret's value opened: %v", err)
	}
}

func TestSealOpenWithIndex(t *testing.T) {
	s := mustSealer(t, secret(3), secret(2), secret(1))
	for want, sec := range [][]byte{secret(3), secret(2), secret(1)} {
		sealed := mustSealer(t, sec).Seal([]byte("v"), []byte("aad"))
		got, i, err := s.OpenWithIndex(sealed, []byte("aad"))
		if err != nil || string(got) != "v" || i != want {
			t.Fatalf("value sealed with secret #%d: OpenWithIndex = %q, %d, %v; want index %d", want+1, got, i, err, want)
		}
		// The index is the secret that opened it, not the key-id hint.
		hintless := mustSealer(t, secret(3), secret(2), secret(1))
		for k := range hintless.keys {
			hintless.keys[k].id = [keyIDLen]byte{0xde, 0xad, 0xbe, byte(k)}
		}
		if _, i, err := hintless.OpenWithIndex(sealed, []byte("aad")); err != nil || i != want {
			t.Fatalf("without a matching key id: index %d, %v; want %d", i, err, want)
		}
		if _, i, err := s.OpenWithIndex(sealed, []byte("other")); !errors.Is(err, ErrInvalidSealed) || i != -1 {
			t.Fatalf("another aad: index %d, %v; want -1, ErrInvalidSealed", i, err)
		}
	}
	if _, i, err := s.OpenWithIndex(mustSealer(t, secret(4)).Seal([]byte("v"), nil), nil); !errors.Is(err, ErrInvalidSealed) || i != -1 {
		t.Fatalf("a foreign secret's value: index %d, %v; want -1, ErrInvalidSealed", i, err)
	}
	expired := mustSealer(t, secret(2)).SealUntil([]byte("v"), nil, time.Now().Add(-time.Second))
	if _, i, err := s.OpenWithIndex(expired, nil); !errors.Is(err, ErrExpiredSealed) || i != -1 {
		t.Fatalf("an expired value: index %d, %v; want -1, ErrExpiredSealed", i, err)
	}
}

func TestSealKeyIDIsOnlyAHint(t *testing.T) {
	sealed := mustSealer(t, secret(2)).Seal([]byte("v"), nil)
	s := mustSealer(t, secret(1), secret(2))
	// Give the second key another id (as if the id scheme had changed): the
	// header no longer names any key, yet Open must still find it.
	s.keys[1].id = [keyIDLen]byte{0xde, 0xad, 0xbe, 0xef}
	if got, err := s.Open(sealed, nil); err != nil || string(got) != "v" {
		t.Fatalf("Open did not fall back to trying every key: %v", err)
	}
	// The header is authenticated: rewriting the key id breaks the value.
	raw, _ := base64.RawURLEncoding.DecodeString(sealed)
	copy(raw[1:headerLen], s.keys[0].id[:])
	if _, err := s.Open(base64.RawURLEncoding.EncodeToString(raw), nil); err == nil {
		t.Fatal("altered key id was accepted: header is not authenticated")
	}
}

func TestSealRejectsTamperTruncateForeign(t *testing.T) {
	s := mustSealer(t, secret(1))
	sealed := s.Seal([]byte("payload"), []byte("edgeauth"))
	raw, _ := base64.RawURLEncoding.DecodeString(sealed)
	cases := map[string]string{
		"empty":     "",
		"truncated": sealed[:len(sealed)-3],
		"short":     sealed[:10],
		"not b64":   "!!!" + sealed,
		"padded":    sealed + "=",
	}
	for i := range raw {
		flipped := bytes.Clone(raw)
		flipped[i] ^= 0x01
		cases["flip byte "+string(rune('a'+i%26))+string(rune('0'+i/26%10))] = base64.RawURLEncoding.EncodeToString(flipped)
	}
	for name, v := range cases {
		if _, err := s.Open(v, []byte("edgeauth")); err == nil {
			t.Errorf("%s: Open accepted a damaged value", name)
		}
	}
	if _, err := s.Open(sealed, []byte("edgeauth_login_x")); err == nil {
		t.Error("value opened under another cookie's AAD")
	}
	if _, err := mustSealer(t, secret(9)).Open(sealed, []byte("edgeauth")); err == nil {
		t.Error("foreign secret opened the value")
	}
	if _, err := s.Open(strings.Repeat("A", MaxSealedLen+1), nil); err == nil {
		t.Error("oversize input accepted")
	}
}

func TestSealExpiry(t *testing.T) {
	s := mustSealer(t, secret(1))
	now := time.Unix(1_700_000_000, 0)
	sealed := s.SealUntil([]byte("p"), nil, now.Add(time.Minute))
	if _, err := s.OpenAt(sealed, nil, now); err != nil {
		t.Fatalf("fresh value refused: %v", err)
	}
	if _, err := s.OpenAt(sealed, nil, now.Add(time.Minute)); !errors.Is(err, ErrExpiredSealed) {
		t.Fatalf("expired value: got %v, want ErrExpiredSealed", err)
	}
}

func TestNewSealerRefusesShortSecrets(t *testing.T) {
	if _, err := NewSealer(nil); err == nil {
		t.Error("no secrets accepted")
	}
	_, err := NewSealer([][]byte{secret(1), bytes.Repeat([]byte{1}, 31)})
	if err == nil || !strings.Contains(err.Error(), "at least 32 bytes") || !strings.Contains(err.Error(), "#2") {
		t.Errorf("31-byte secret: got %v, want an error naming secret #2 and the 32-byte minimum", err)
	}
	if len(RandomSecret()) != MinSecretLen || bytes.Equal(RandomSecret(), RandomSecret()) {
		t.Error("RandomSecret must return distinct 32-byte values")
	}
	if _, err := NewSealer([][]byte{RandomSecret()}); err != nil {
		t.Errorf("RandomSecret not accepted: %v", err)
	}
}

func FuzzOpen(f *testing.F) {
	s := mustSealer(f, secret(1), secret(2))
	f.Add(s.Seal([]byte("hello"), []byte("edgeauth")), []byte("edgeauth"))
	f.Add(s.SealUntil([]byte("x"), nil, time.Unix(1, 0)), []byte(nil))
	f.Add("", []byte(""))
	f.Add("AQAAAAA", []byte("a"))
	f.Add(strings.Repeat("_", 100), []byte("edgeauth"))
	f.Fuzz(func(t *testing.T, sealed string, ad []byte) {
		pt, err := s.Open(sealed, ad)
		if err != nil && pt != nil {
			t.Fatal("plaintext returned with an error")
		}
		// Whatever opened must re-seal and open to the same bytes.
		if err == nil {
			back, err := s.Open(s.Seal(pt, ad), ad)
			if err != nil || !bytes.Equal(back, pt) {
				t.Fatal("re-seal round trip failed")
			}
		}
	})
}
