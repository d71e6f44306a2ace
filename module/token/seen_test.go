package token

import (
	"fmt"
	"math"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/identity"
)

// TestCacheOfferStoresOnSecondSight: a token's identity is cached only when
// the token is offered a second time; a token used once leaves no entry.
func TestCacheOfferStoresOnSecondSight(t *testing.T) {
	c, clock := newTestCache(t, 10, time.Minute)
	id := &identity.Identity{Subject: "u", Expiry: clock.Now().Add(time.Hour)}
	k := KeyOf("tok-a")
	if c.Offer(&k, id) {
		t.Fatal("stored on first sight")
	}
	if _, ok := c.Lookup(&k); ok || c.Len() != 0 {
		t.Fatal("a token seen once is in the cache")
	}
	if !c.Offer(&k, id) {
		t.Fatal("not stored on second sight")
	}
	if got, ok := c.Get("tok-a"); !ok || got != id {
		t.Fatalf("Get after the second offer = %v, %v", got, ok)
	}
	// Flush forgets the sightings too.
	c.Flush()
	if c.Offer(&k, id) || c.Len() != 0 {
		t.Fatal("stored on the first sight after Flush")
	}
	// nil is never stored, and is no sighting either.
	n := KeyOf("nil")
	c.Offer(&n, nil)
	if c.Offer(&n, id) || c.Len() != 0 {
		t.Fatal("an offer of nil counted as a sighting")
	}
}

// TestCacheOfferNeverServesAnotherToken is the attacker's view of the
// filter: they choose token bytes and when to send them. Tokens whose
// fingerprints (the filter's 64 bits) collide, or tokens that differ by a
// byte or only in JSON spelling, each get only their own identity: the
// filter decides whether to store, lookups are by the full SHA-256.
func TestCacheOfferNeverServesAnotherToken(t *testing.T) {
	c, clock := newTestCache(t, 10, time.Minute)
	exp := clock.Now().Add(time.Hour)
	victim := &identity.Identity{Subject: "victim", Expiry: exp}
	attacker := &identity.Identity{Subject: "attacker", Expiry: exp}

	// Two keys with the same fingerprint (same first 8 bytes, so the same
	// slot and the same filter value): the attacker's first offer finds
	// the victim's mark and is stored, under the attacker's key only.
	kv := KeyOf("victim-token")
	ka := kv
	ka[31] ^= 1
	if fingerprint(&ka) != fingerprint(&kv) {
		t.Fatal("test keys do not collide")
	}
	c.Offer(&kv, victim)
	if !c.Offer(&ka, attacker) {
		t.Fatal("a colliding fingerprint was not taken as seen (the test no longer shows what it should)")
	}
	if _, ok := c.Lookup(&kv); ok {
		t.Fatal("the victim's key answers after an offer under a colliding key")
	}
	if got, _ := c.Lookup(&ka); got != attacker {
		t.Fatalf("attacker's key answers %v", got)
	}
	c.Offer(&kv, victim)
	if got, _ := c.Lookup(&kv); got != victim {
		t.Fatalf("victim's key answers %v", got)
	}
	if got, _ := c.Lookup(&ka); got != attacker {
		t.Fatalf("attacker's key answers %v after the victim was cached", got)
	}

	// Near-identical tokens: one byte apart, the same claims in another
	// JSON spelling, the same key id with another signature. Each is
	// offered twice with its own identity; each answers only its own.
	raws := []string{
		"eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJhIn0.c2ln",
		"eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJhIn0.c2lo",
		"eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyAic3ViIjoiYSJ9.c2ln", // {"sub":"a"} spelt { "sub":"a"}
		"eyJraWQiOiJrMSIsImFsZyI6IlJTMjU2In0.eyJzdWIiOiJhIn0.c2ln",  // header members reordered
	}
	ids := make([]*identity.Identity, len(raws))
	for i, raw := range raws {
		ids[i] = &identity.Identity{Subject: fmt.Sprint("s", i), Expiry: exp}
		k := KeyOf(raw)
		c.Offer(&k, ids[i])
		c.Offer(&k, ids[i])
	}
	for i, raw := range raws {
		if got, ok := c.Get(raw); !ok || got != ids[i] {
			t.Fatalf("token %d answers %v, %v; want its own identity", i, got, ok)
		}
	}
}

// TestSeenFilterIsBoundedAndPointerFree: the filter's size follows the
// cache's cap within fixed bounds, and holds no pointers (the garbage
// collector never scans it).
func TestSeenFilterIsBoundedAndPointerFree(t *testing.T) {
	for _, tc := range []struct{ entries, slots int }{
		{1, minSeenSlots}, {20000, 1 << 16}, {1 << 15, 1 << 16}, {1 << 30, maxSeenSlots}, {math.MaxInt, maxSeenSlots},
	} {
		if got := len(newSeenFilter(tc.entries).slots); got != tc.slots {
			t.Errorf("cache of %d entries: %d filter slots, want %d", tc.entries, got, tc.slots)
		}
	}
	if hasPointers(reflect.TypeOf(seenFilter{}.slots).Elem()) {
		t.Fatal("filter slots hold pointers")
	}
	// The slot index stays in range for every fingerprint.
	f := newSeenFilter(1000)
	for _, fp := range []uint64{1, 1<<63 | 1, ^uint64(0)} {
		var k Key
		for i := range 8 {
			k[i] = byte(fp >> (8 * i))
		}
		f.seenBefore(&k)
	}
}

func hasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.String, reflect.Interface, reflect.Chan, reflect.Func, reflect.UnsafePointer:
		return true
	case reflect.Struct:
		for i := range t.NumField() {
			if hasPointers(t.Field(i).Type) {
				return true
			}
		}
	case reflect.Array:
		return hasPointers(t.Elem())
	}
	return false
}

// TestCacheOfferConcurrent offers the same and different tokens from many
// goroutines (run with -race): every stored identity is its own token's.
func TestCacheOfferConcurrent(t *testing.T) {
	c, clock := newTestCache(t, 1000, time.Minute)
	exp := clock.Now().Add(time.Hour)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				raw := fmt.Sprint("tok-", i%50)
				k := KeyOf(raw)
				c.Offer(&k, &identity.Identity{Subject: raw, Expiry: exp})
				if got, ok := c.Lookup(&k); ok && got.Subject != raw {
					t.Errorf("goroutine %d: %s answered %s", g, raw, got.Subject)
				}
			}
		}()
	}
	wg.Wait()
	if c.Len() != 50 {
		t.Fatalf("Len = %d, want 50 (each token seen many times)", c.Len())
	}
}
