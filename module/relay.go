package edgeauth

import (
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/edgeauth/caddy-edgeauth/module/identity"
	"github.com/edgeauth/caddy-edgeauth/module/session"
)

// Token relay: the caller's tokens for upstreams that call APIs on the
// user's behalf. See the README, "Token relay".
const (
	// PlaceholderAccessToken is the caller's access token: a session's
	// current one (after any refresh), or the bearer token presented.
	PlaceholderAccessToken = "http.auth.access_token"
	// PlaceholderIDToken is a session's current ID token; "" for a bearer
	// request.
	PlaceholderIDToken = "http.auth.id_token"
)

// provideTokens registers the token placeholders for a verified caller:
// sess's tokens, or (sess nil) the bearer token r presents. The values are
// secrets: the plugin never logs them, and they are handed out only to
// whoever asks for the placeholder.
func provideTokens(repl *caddy.Replacer, r *http.Request, sess *session.Session) {
	if repl == nil {
		return
	}
	var access, id string
	if sess != nil {
		access, id = sess.AccessToken, sess.IDToken
	} else {
		access, _ = bearerToken(r)
	}
	repl.Map(func(key string) (any, bool) {
		switch key {
		case PlaceholderAccessToken:
			return access, true
		case PlaceholderIDToken:
			return id, true
		}
		return nil, false
	})
}

// provideAnonymous answers every identity and token placeholder with "" for
// a request that passes without an identity (an optional path), so that a
// template such as `header_up X-User {http.auth.user.id}` never keeps a
// literal placeholder.
func provideAnonymous(repl *caddy.Replacer) {
	if repl != nil {
		repl.Map(anonymousValue)
	}
}

// anonymousValue is provideAnonymous's replacer function.
func anonymousValue(key string) (any, bool) {
	if key == PlaceholderAccessToken || key == PlaceholderIDToken || strings.HasPrefix(key, identity.UserPlaceholderPrefix) {
		return "", true
	}
	return nil, false
}

// relaySessionToken, with pass_access_token, replaces whatever
// Authorization the client sent on a session request with the session's
// current access token, so the upstream can call APIs as the user. A token
// that no header could carry as it is (empty, or with bytes outside visible
// ASCII) is not sent: the upstream then gets no Authorization at all. Bearer
// requests (sess nil) keep the Authorization they were verified by.
func (h *Handler) relaySessionToken(r *http.Request, sess *session.Session) {
	if !h.PassAccessToken || sess == nil {
		return
	}
	dropAuthorization(r.Header)
	if validTokenValue(sess.AccessToken) {
		r.Header["Authorization"] = []string{"Bearer " + sess.AccessToken}
	}
}

// dropAuthorization deletes every Authorization field, in any spelling of
// the name.
func dropAuthorization(h http.Header) {
	for k := range h {
		if strings.EqualFold(k, "Authorization") {
			delete(h, k)
		}
	}
}

// validTokenValue reports whether tok can stand in `Authorization: Bearer
// <tok>` as it is: non-empty, visible ASCII without spaces.
func validTokenValue(tok string) bool {
	if tok == "" {
		return false
	}
	for i := 0; i < len(tok); i++ {
		if tok[i] <= 0x20 || tok[i] >= 0x7f {
			return false
		}
	}
	return true
}
