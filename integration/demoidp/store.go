package demoidp

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"time"
)

// authRequest is an authorization request between /authorize and the consent.
type authRequest struct {
	client      Client
	redirectURI string
	scopes      []string // requested (all supported)
	state       string
	nonce       string
	challenge   string
	method      string
	offline     bool
	loginHint   string
	user        *User // set after a successful login
	expires     time.Time
}

// codeGrant is an issued authorization code.
type codeGrant struct {
	clientID    string
	redirectURI string
	user        User
	scopes      []string // granted
	nonce       string
	challenge   string
	method      string
	offline     bool
	sid         string
	authTime    time.Time
	expires     time.Time
	used        bool
	issued      []string // token keys issued from this code, revoked on reuse
}

// grant is what an access or refresh token stands for.
type grant struct {
	jkt      string // access tokens bound to a DPoP key (cnf.jkt)
	clientID string
	user     User
	scopes   []string
	sid      string
	issuedAt time.Time
	expires  time.Time
	revoked  bool
	// refresh tokens only
	family     string
	rotatedOut bool
	nonce      string
	authTime   time.Time
}

// Logout records one end-session request.
type Logout struct {
	Time                  time.Time
	ClientID              string
	Subject               string
	SID                   string
	PostLogoutRedirectURI string
	State                 string
	// IDTokenHintValid is true when an id_token_hint was sent and verified.
	IDTokenHintValid bool
}

type store struct {
	requests map[string]*authRequest
	codes    map[string]*codeGrant
	access   map[string]*grant
	refresh  map[string]*grant
	logouts  []Logout
}

func newStore() store {
	return store{
		requests: map[string]*authRequest{},
		codes:    map[string]*codeGrant{},
		access:   map[string]*grant{},
		refresh:  map[string]*grant{},
	}
}

// tokenKey is how tokens are indexed: their SHA-256, so that the maps never
// hold the bearer strings themselves.
func tokenKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// prune drops expired entries once a map grows large; callers hold s.mu.
func (s *Server) prune(now time.Time) {
	const limit = 10000
	if len(s.state.requests) > limit {
		for k, v := range s.state.requests {
			if now.After(v.expires) {
				delete(s.state.requests, k)
			}
		}
	}
	if len(s.state.codes) > limit {
		for k, v := range s.state.codes {
			if now.After(v.expires.Add(time.Hour)) {
				delete(s.state.codes, k)
			}
		}
	}
	for _, m := range []map[string]*grant{s.state.access, s.state.refresh} {
		if len(m) > limit {
			for k, v := range m {
				if now.After(v.expires) {
					delete(m, k)
				}
			}
		}
	}
}

// Logouts returns the end-session requests received so far.
func (s *Server) Logouts() []Logout {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.state.logouts)
}
