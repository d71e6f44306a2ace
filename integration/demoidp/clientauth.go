package demoidp

import (
	"crypto/subtle"
	"net/http"
	"net/url"
)

func (s *Server) client(id string) (Client, bool) {
	for _, c := range s.opts.Clients {
		if c.ID == id {
			return c, true
		}
	}
	return Client{}, false
}

// authenticateClient checks client_secret_basic or client_secret_post (or a
// bare client_id for public clients unless confidentialOnly). On failure it
// writes the RFC 6749 §5.2 error and returns false. r.PostForm must be parsed.
func (s *Server) authenticateClient(w http.ResponseWriter, r *http.Request, confidentialOnly bool) (Client, bool) {
	basicID, basicSecret, hasBasic := r.BasicAuth()
	postID, okID := single(r.PostForm, "client_id")
	postSecret, okSecret := single(r.PostForm, "client_secret")
	if !okID || !okSecret {
		oauthError(w, http.StatusBadRequest, "invalid_request", "client_id and client_secret may appear only once")
		return Client{}, false
	}
	fail := func(desc string) (Client, bool) {
		if hasBasic {
			w.Header().Set("WWW-Authenticate", `Basic realm="demoidp"`)
		}
		oauthError(w, http.StatusUnauthorized, "invalid_client", desc)
		return Client{}, false
	}
	var id, secret string
	switch {
	case hasBasic:
		if postSecret != "" {
			oauthError(w, http.StatusBadRequest, "invalid_request", "use one client authentication method: Basic or client_secret in the body, not both")
			return Client{}, false
		}
		// RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
		var err1, err2 error
		id, err1 = url.QueryUnescape(basicID)
		secret, err2 = url.QueryUnescape(basicSecret)
		if err1 != nil || err2 != nil {
			return fail("the Basic credentials are not form-urlencoded")
		}
		if postID != "" && postID != id {
			oauthError(w, http.StatusBadRequest, "invalid_request", "client_id in the body differs from the Basic credentials")
			return Client{}, false
		}
	case postID != "":
		id, secret = postID, postSecret
	default:
		return fail("no client authentication: send client_id and client_secret (body or HTTP Basic)")
	}
	c, ok := s.client(id)
	if !ok {
		return fail("unknown client_id")
	}
	if c.Secret == "" {
		if confidentialOnly {
			return fail("public clients may not use this endpoint")
		}
		if secret != "" {
			return fail("this is a public client; it has no secret")
		}
		return c, true
	}
	if subtle.ConstantTimeCompare([]byte(secret), []byte(c.Secret)) != 1 {
		return fail("client authentication failed: wrong or missing client_secret")
	}
	return c, true
}
