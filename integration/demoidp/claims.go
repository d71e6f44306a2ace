package demoidp

import (
	"crypto/rand"
	"encoding/base64"
	"slices"
	"strings"
)

// userClaims returns the identity claims the granted scopes release for u.
func userClaims(u User, granted []string) map[string]any {
	c := map[string]any{"sub": u.Subject}
	put := func(k, v string) {
		if v != "" {
			c[k] = v
		}
	}
	if slices.Contains(granted, "aliuid") {
		put("aid", u.AccountID)
		put("uid", u.UID)
	}
	if slices.Contains(granted, "profile") {
		put("type", u.Type)
		put("name", u.Name)
		put("upn", u.UPN)
		put("login_name", u.LoginName)
	}
	if slices.Contains(granted, "email") && u.Email != "" {
		c["email"] = u.Email
		c["email_verified"] = true
	}
	return c
}

// grantable keeps the requested scopes the user may grant, in request order,
// without duplicates.
func grantable(u User, requested []string) []string {
	out := []string{}
	for _, sc := range requested {
		if slices.Contains(u.Scopes, sc) && !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out
}

// splitScope splits a space-separated scope parameter (RFC 6749 §3.3).
func splitScope(s string) []string { return strings.Fields(s) }

// user finds a configured user by username.
func (s *Server) user(username string) (User, bool) {
	for _, u := range s.opts.Users {
		if u.Username == username {
			return u, true
		}
	}
	return User{}, false
}

// userBySubject finds a configured user by sub.
func (s *Server) userBySubject(sub string) (User, bool) {
	for _, u := range s.opts.Users {
		if u.Subject == sub {
			return u, true
		}
	}
	return User{}, false
}

// User returns the configured user with that username.
func (s *Server) User(username string) (User, bool) { return s.user(username) }

// Users returns the configured users.
func (s *Server) Users() []User { return slices.Clone(s.opts.Users) }

// Clients returns the registered clients.
func (s *Server) Clients() []Client { return slices.Clone(s.opts.Clients) }

// supportedScopes is baseScopes plus every scope a client or user lists.
func (s *Server) supportedScopes() []string {
	out := slices.Clone(baseScopes)
	add := func(list []string) {
		for _, sc := range list {
			if !slices.Contains(out, sc) {
				out = append(out, sc)
			}
		}
	}
	for _, c := range s.opts.Clients {
		add(c.Scopes)
	}
	for _, u := range s.opts.Users {
		add(u.Scopes)
	}
	return out
}

// randomToken returns n random bytes, base64url-encoded.
func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("demoidp: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
