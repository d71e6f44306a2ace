package sts

import (
	"encoding/json"
	"slices"
)

// keyVersion starts every CacheKey encoding, so that a change of the
// encoding never meets entries (for example in a fleet's Redis) written
// under the old one.
const keyVersion = "edgeauth sts cache key v2"

// CacheKey is everything that tells one set of credentials from another:
// which STS (and how it is configured), whose token (caller or the gateway's
// own), which caller, and what was asked for. Two requests share cached
// credentials (locally and through a SharedStore) only when every field is
// equal. See docs/ARCHITECTURE.md (sts).
type CacheKey struct {
	// STS is the configured STS name.
	STS string
	// Config fingerprints the STS settings that shape an exchange (type,
	// endpoint, duration, token_exchange parameters, workload source); see
	// Key.
	Config string
	// Source is "caller" or "workload".
	Source string
	// Provider is the configured provider that verified the caller's token.
	Provider string
	// Issuer, Subject, AuthorizedParty and ClientID are the token's `iss`,
	// `sub`, `azp` and `client_id`, raw (absent and empty are the same:
	// a claim that is not a string is kept apart through Claims).
	Issuer, Subject, AuthorizedParty, ClientID string
	// Audiences are the token's `aud` values; their order and repetitions
	// do not matter.
	Audiences []string
	// Claims fingerprints every other claim (see ClaimsFingerprint).
	Claims string
	// RoleARN, ProviderARN, Policy and SessionName are what is asked of the
	// STS; SessionName after template expansion and sanitizing.
	RoleARN, ProviderARN, Policy, SessionName string
}

// String is the key: a SHA-256 over a length-prefixed encoding of every
// field in a fixed order (the audiences as a sorted set, counted), so that
// no claim value, whatever bytes it holds, can make two different keys
// encode alike.
func (k CacheKey) String() string {
	aud := slices.Clone(k.Audiences)
	slices.Sort(aud)
	aud = slices.Compact(aud)
	return Key(keyVersion, k.STS, k.Config, k.Source, k.Provider,
		k.Issuer, k.Subject, k.AuthorizedParty, k.ClientID, Key(aud...), k.Claims,
		k.RoleARN, k.ProviderARN, k.Policy, k.SessionName)
}

// keyedClaims are in CacheKey's own fields; perTokenClaims change with every
// token of the same caller and do not tell callers apart. Both are left out
// of ClaimsFingerprint (so a new token of the same caller, or its audiences
// in another order, still hits the cache).
var (
	keyedClaims    = []string{"iss", "sub", "aud", "azp", "client_id"}
	perTokenClaims = []string{"exp", "iat", "nbf", "jti", "auth_time", "nonce", "at_hash", "c_hash", "s_hash"}
)

// ClaimsFingerprint hashes the claims that CacheKey has no field for, other
// than the per-token ones (exp, iat, nbf, jti, auth_time, nonce, at_hash,
// c_hash, s_hash): groups, roles, tags and whatever else an STS may read
// from the token and base its answer on. A keyed claim that is not in its
// plain form (`iss`, `sub`, `azp`, `client_id` not a string; `aud` neither a
// string nor an array of strings) is fingerprinted too, so that it cannot
// pass for an absent or a string one.
func ClaimsFingerprint(claims map[string]any) string {
	rest := make(map[string]any, len(claims))
	for name, v := range claims {
		if slices.Contains(perTokenClaims, name) || (slices.Contains(keyedClaims, name) && plain(name, v)) {
			continue
		}
		rest[name] = v
	}
	// encoding/json sorts map keys, so equal claims encode alike; claims
	// decoded from JSON always encode.
	b, err := json.Marshal(rest)
	if err != nil {
		return Key("unencodable claims", err.Error())
	}
	return Key(string(b))
}

// plain reports whether a keyed claim has the form CacheKey's field holds.
func plain(name string, v any) bool {
	if _, ok := v.(string); ok {
		return true
	}
	if name != "aud" {
		return false
	}
	arr, ok := v.([]any)
	if !ok {
		return false
	}
	for _, e := range arr {
		if _, ok := e.(string); !ok {
			return false
		}
	}
	return true
}

// Audiences returns the `aud` claim's string values: a string is one
// audience, an array gives its strings. Other values are left to
// ClaimsFingerprint.
func Audiences(aud any) []string {
	switch v := aud.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
