package assertsign

import (
	"encoding/json"
	"time"
)

// ring is an immutable view of the key set at one moment: the key that
// signs, the public keys to publish, and when the view must be rebuilt.
// The hot path reads it through an atomic pointer.
type ring struct {
	signing   *signingKey
	published []*signingKey // the signing key and the others still published
	jwks      []byte        // the JWKS document of published
	staleAt   time.Time     // rebuild (and re-read storage) from then on; zero: never
}

// jwksDoc is the JWKS document.
type jwksDoc struct {
	Keys []publicJWK `json:"keys"`
}

// newRing builds the view of keys at now.
func newRing(keys []timedKey, sc schedule, now time.Time) *ring {
	active := sc.active(keys, now)
	r := &ring{signing: keys[active].signingKey, staleAt: sc.nextChange(keys, now)}
	// Newest first: a verifier that takes the first key of the right type
	// finds the one that signs now, or the next one.
	for i := len(keys) - 1; i >= 0; i-- {
		if sc.published(keys, i, active, now) {
			r.published = append(r.published, keys[i].signingKey)
		}
	}
	r.jwks = encodeJWKS(r.published)
	return r
}

// fixedRing is the view of a key_file key: it never changes.
func fixedRing(k *signingKey) *ring {
	return &ring{signing: k, published: []*signingKey{k}, jwks: encodeJWKS([]*signingKey{k})}
}

func encodeJWKS(keys []*signingKey) []byte {
	doc := jwksDoc{Keys: make([]publicJWK, len(keys))}
	for i, k := range keys {
		doc.Keys[i] = k.jwk
	}
	b, _ := json.Marshal(doc) // strings only: cannot fail
	return b
}

// hasKid reports whether kid is published.
func (r *ring) hasKid(kid string) bool {
	for _, k := range r.published {
		if k.kid == kid {
			return true
		}
	}
	return false
}
