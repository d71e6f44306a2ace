package session

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/identity"
)

// Session is a browser's login. It is sealed whole into the cookie (or, for
// a server-side store, kept server-side under ID).
type Session struct {
	// ID is random and new for every login; it never survives a new login.
	ID string
	// Provider is the configured provider name.
	Provider string
	// Subject is the ID token's `sub`.
	Subject string
	// IDToken, AccessToken and RefreshToken are the raw tokens. Never log them.
	IDToken, AccessToken, RefreshToken string
	// TokenType is the token response's token_type (usually "Bearer").
	TokenType string
	// Expiry is when the access/ID token stops being valid (the earlier of
	// the two when both are known); zero means unknown. The session is
	// refreshed shortly before it.
	Expiry time.Time
	// Scopes are the granted scopes.
	Scopes []string
	// Refused are scopes asked for in a login that the provider did not
	// grant; see login's incremental authorization.
	Refused []string
	// Claims are the ID token's claims (numbers as json.Number). They are
	// stored because the ID token may have expired by the time it is needed.
	Claims map[string]any
	// CreatedAt is the login time; RefreshedAt the last refresh (or zero).
	CreatedAt, RefreshedAt time.Time
	// NotAfter ends the session whatever the tokens say.
	NotAfter time.Time
}

// wire is the compact JSON form sealed into cookies. Times are Unix seconds
// and scopes are space-joined to keep cookies small.
type wire struct {
	V  int            `json:"v"`
	ID string         `json:"i"`
	P  string         `json:"p,omitempty"`
	S  string         `json:"s,omitempty"`
	IT string         `json:"it,omitempty"`
	AT string         `json:"at,omitempty"`
	RT string         `json:"rt,omitempty"`
	TT string         `json:"tt,omitempty"`
	E  int64          `json:"e,omitempty"`
	SC string         `json:"sc,omitempty"`
	RF string         `json:"rf,omitempty"`
	C  map[string]any `json:"c,omitempty"`
	CA int64          `json:"ca,omitempty"`
	RA int64          `json:"ra,omitempty"`
	NA int64          `json:"na"`
}

const wireVersion = 1

// NewID returns a fresh random session ID (256 bits, base64url).
func NewID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func fromUnix(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0)
}

// MarshalJSON encodes the session in its compact wire form.
func (s *Session) MarshalJSON() ([]byte, error) {
	return json.Marshal(wire{
		V: wireVersion, ID: s.ID, P: s.Provider, S: s.Subject,
		IT: s.IDToken, AT: s.AccessToken, RT: s.RefreshToken, TT: s.TokenType,
		E: unix(s.Expiry), SC: strings.Join(s.Scopes, " "), RF: strings.Join(s.Refused, " "),
		C: s.Claims, CA: unix(s.CreatedAt), RA: unix(s.RefreshedAt), NA: unix(s.NotAfter),
	})
}

// Decode reads a session from its compact wire form in one pass (unlike
// json.Unmarshal, which validates the input before decoding it again).
func Decode(b []byte) (*Session, error) {
	s := new(Session)
	if err := s.UnmarshalJSON(b); err != nil {
		return nil, err
	}
	return s, nil
}

// UnmarshalJSON decodes the compact wire form; claim numbers stay
// json.Number.
func (s *Session) UnmarshalJSON(b []byte) error {
	var w wire
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&w); err != nil {
		return err
	}
	if w.V != wireVersion || w.ID == "" {
		return errors.New("session: unknown session format")
	}
	*s = Session{
		ID: w.ID, Provider: w.P, Subject: w.S,
		IDToken: w.IT, AccessToken: w.AT, RefreshToken: w.RT, TokenType: w.TT,
		Expiry: fromUnix(w.E), Scopes: strings.Fields(w.SC), Refused: strings.Fields(w.RF),
		Claims: w.C, CreatedAt: fromUnix(w.CA), RefreshedAt: fromUnix(w.RA), NotAfter: fromUnix(w.NA),
	}
	return nil
}

// Identity returns the verified caller this session stands for. Token is the
// session's ID token (which may have expired when the provider does not
// issue new ID tokens on refresh; Expiry tells the session's validity).
func (s *Session) Identity() *identity.Identity {
	iss, _ := s.Claims["iss"].(string)
	return &identity.Identity{
		Provider: s.Provider,
		Subject:  s.Subject,
		Issuer:   iss,
		Scopes:   append([]string(nil), s.Scopes...),
		Claims:   s.Claims,
		Expiry:   s.Expiry,
		Token:    s.IDToken,
	}
}

// Clone returns a copy that shares no slices with s (Claims is shared: it is
// treated as read-only).
func (s *Session) Clone() *Session {
	c := *s
	c.Scopes = append([]string(nil), s.Scopes...)
	c.Refused = append([]string(nil), s.Refused...)
	return &c
}
