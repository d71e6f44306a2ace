// Package clientauth is how edgeauth authenticates as an OAuth 2.0 client at
// an authorization server's form-POST endpoints: the token endpoint (code
// exchange, refresh, client credentials, RFC 8693 token exchange), RFC 7009
// revocation and RFC 7662 introspection. One place decides where the client
// ID and secret go (RFC 6749 §2.3.1), so every caller sends them alike.
package clientauth

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Client authentication methods, by their registered names (RFC 7591 §2).
const (
	// SecretBasic sends the client ID and secret with HTTP Basic, each
	// form-urlencoded first (RFC 6749 §2.3.1).
	SecretBasic = "client_secret_basic"
	// SecretPost sends them as client_id and client_secret form fields.
	SecretPost = "client_secret_post"
	// None sends only client_id in the form: a public client.
	None = "none"
)

// Client is an OAuth client's credentials and how it presents them.
type Client struct {
	ID     string
	Secret string
	// Method is SecretBasic, SecretPost or None. Empty: SecretBasic when
	// there is a secret, else None. SecretBasic without a secret is None.
	Method string
}

// Check reports whether method is one of the names above (or empty), with
// an error that names the choices.
func Check(method string) error {
	switch method {
	case "", SecretBasic, SecretPost, None:
		return nil
	}
	return fmt.Errorf("unknown client authentication method %q; use %s, %s or %s", method, SecretBasic, SecretPost, None)
}

// EffectiveMethod is the method the client uses: Method, or the default
// for its credentials.
func (c Client) EffectiveMethod() string {
	switch {
	case c.Secret == "":
		return None
	case c.Method == "":
		return SecretBasic
	}
	return c.Method
}

// NewRequest returns a POST of form to endpoint that authenticates as c,
// asking for a JSON answer. The form is not modified. The body can be
// replayed (GetBody), for redirects and retries.
func (c Client) NewRequest(ctx context.Context, endpoint string, form url.Values) (*http.Request, error) {
	if err := Check(c.Method); err != nil {
		return nil, err
	}
	fields := make(url.Values, len(form)+2)
	for k, v := range form {
		fields[k] = v
	}
	method := c.EffectiveMethod()
	switch method {
	case SecretPost:
		fields.Set("client_id", c.ID)
		fields.Set("client_secret", c.Secret)
	case None:
		if c.ID != "" {
			fields.Set("client_id", c.ID)
		}
	}
	body := fields.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(body))
	if err != nil {
		// The URL comes from configuration or discovery; the form holds
		// secrets and is left out.
		return nil, fmt.Errorf("endpoint %q is not a valid URL", endpoint)
	}
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if method == SecretBasic {
		req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	}
	return req, nil
}
