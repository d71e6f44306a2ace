package assertsign

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"
)

// storedVersion is the format of the key set document in storage.
const storedVersion = 1

// futureTolerance is how far in the future a stored key's times may lie
// (clock differences between instances) before the set counts as tampered.
const futureTolerance = 5 * time.Minute

// storedSet is the key set as it is kept in storage: every key that is
// still published, oldest first, with its private key.
type storedSet struct {
	Version   int         `json:"version"`
	Issuer    string      `json:"issuer"`
	Algorithm string      `json:"alg"`
	Keys      []storedKey `json:"keys"`
}

// storedKey is one generated key.
type storedKey struct {
	Kid string `json:"kid"`
	// Created is when the key was generated (and published).
	Created time.Time `json:"created"`
	// NotBefore is when it starts signing: a rotated key is published a
	// refresh interval before it signs, so that every instance (and every
	// verifier that refetches on an unknown kid) knows it by then.
	NotBefore time.Time `json:"not_before"`
	// PrivateKey is the PKCS #8 PEM of the private key.
	PrivateKey string `json:"private_key"`
}

// timedKey is a stored key, decoded.
type timedKey struct {
	*signingKey
	notBefore time.Time
}

// decodeSet parses and checks a stored key set: the format, the issuer and
// algorithm it was made for, each key's type, and each kid against the
// thumbprint of its key. Any mismatch is an error: a set that was damaged
// or altered in storage is never used to sign.
func decodeSet(data []byte, issuer, alg string, now time.Time) ([]timedKey, error) {
	var set storedSet
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("not a key set document: %v", err)
	}
	if set.Version != storedVersion {
		return nil, fmt.Errorf("key set version %d; this gateway reads version %d", set.Version, storedVersion)
	}
	if set.Issuer != issuer || set.Algorithm != alg {
		return nil, fmt.Errorf("key set is for issuer %q and %s, not %q and %s", set.Issuer, set.Algorithm, issuer, alg)
	}
	if len(set.Keys) == 0 {
		return nil, errors.New("key set holds no key")
	}
	out := make([]timedKey, 0, len(set.Keys))
	for i, sk := range set.Keys {
		priv, err := parsePrivatePEM([]byte(sk.PrivateKey))
		if err != nil {
			return nil, fmt.Errorf("key %d: %v", i+1, err)
		}
		if err := checkKeyFor(alg, priv); err != nil {
			return nil, fmt.Errorf("key %d: %v", i+1, err)
		}
		k, err := newSigningKey(alg, priv, sk.Created)
		if err != nil {
			return nil, fmt.Errorf("key %d: %v", i+1, err)
		}
		if k.kid != sk.Kid {
			return nil, fmt.Errorf("key %d: kid %q is not the thumbprint of its key", i+1, sk.Kid)
		}
		if sk.Created.IsZero() || sk.NotBefore.Before(sk.Created) ||
			sk.Created.After(now.Add(futureTolerance)) || sk.NotBefore.After(now.Add(futureTolerance).Add(MaxLifetime)) {
			return nil, fmt.Errorf("key %d: implausible times (created %s, not_before %s)", i+1, sk.Created.Format(time.RFC3339), sk.NotBefore.Format(time.RFC3339))
		}
		if i > 0 && !sk.NotBefore.After(out[i-1].notBefore) {
			return nil, fmt.Errorf("key %d: keys are not in the order they sign", i+1)
		}
		out = append(out, timedKey{signingKey: k, notBefore: sk.NotBefore})
	}
	return out, nil
}

// encodeSet writes keys as a stored key set.
func encodeSet(keys []timedKey, issuer, alg string) ([]byte, error) {
	set := storedSet{Version: storedVersion, Issuer: issuer, Algorithm: alg, Keys: make([]storedKey, len(keys))}
	for i, k := range keys {
		pemText, err := marshalPrivatePEM(k.private)
		if err != nil {
			return nil, err
		}
		set.Keys[i] = storedKey{Kid: k.kid, Created: k.created.UTC(), NotBefore: k.notBefore.UTC(), PrivateKey: pemText}
	}
	return json.MarshalIndent(set, "", "\t")
}

// schedule is the timing of a generated key set.
type schedule struct {
	lifetime time.Duration // of an assertion
	rotate   time.Duration // how long a key signs
	lead     time.Duration // how long before it signs a new key is published
	grace    time.Duration // how long past its last assertion's expiry a key stays published
}

// active returns the index of the key that signs at now: the newest whose
// not_before has come (the first key when none has, which only happens
// with clocks that disagree).
func (sc schedule) active(keys []timedKey, now time.Time) int {
	i := sort.Search(len(keys), func(i int) bool { return keys[i].notBefore.After(now) }) - 1
	return max(i, 0)
}

// published reports whether key i is still published at now: the signing
// key, every newer one, and an older one until every assertion it can have
// signed has expired (it signed until the next key's not_before; instances
// that had not noticed yet may have gone on for the grace).
func (sc schedule) published(keys []timedKey, i, active int, now time.Time) bool {
	if i >= active {
		return true
	}
	return now.Before(keys[i+1].notBefore.Add(sc.lifetime + sc.grace))
}

// rotationDue reports whether a new key must be generated: there is no key,
// or the newest one is the signing key and is within lead of its end.
func (sc schedule) rotationDue(keys []timedKey, now time.Time) bool {
	if len(keys) == 0 {
		return true
	}
	last := keys[len(keys)-1]
	return !now.Before(last.notBefore.Add(sc.rotate - sc.lead))
}

// withFresh returns the keys that are still published at now plus fresh,
// which signs from the end of the newest key's period (or now, when that
// has passed, or when there is no key).
func (sc schedule) withFresh(keys []timedKey, fresh *signingKey, now time.Time) []timedKey {
	notBefore := now
	if len(keys) > 0 {
		if end := keys[len(keys)-1].notBefore.Add(sc.rotate); end.After(now) {
			notBefore = end
		}
	}
	active := sc.active(keys, now)
	out := make([]timedKey, 0, len(keys)+1)
	for i := range keys {
		if sc.published(keys, i, active, now) {
			out = append(out, keys[i])
		}
	}
	return append(out, timedKey{signingKey: fresh, notBefore: notBefore})
}

// nextChange returns when the view of keys computed at now stops being
// right: the next not_before or the end of a retired key's publication.
func (sc schedule) nextChange(keys []timedKey, now time.Time) time.Time {
	var next time.Time
	consider := func(t time.Time) {
		if t.After(now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	for i, k := range keys {
		consider(k.notBefore)
		if i+1 < len(keys) {
			consider(keys[i+1].notBefore.Add(sc.lifetime + sc.grace))
		}
	}
	if len(keys) > 0 {
		consider(keys[len(keys)-1].notBefore.Add(sc.rotate - sc.lead))
	}
	return next
}
