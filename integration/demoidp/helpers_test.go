package demoidp

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

const testRedirect = "http://127.0.0.1:9/oauth2/callback"

func startIDP(t *testing.T, opts Options) *Server {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// noFollow is the server's client that stops at redirects.
func noFollow(s *Server) *http.Client {
	c := s.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

func getJSON(t *testing.T, c *http.Client, u string, into any) *http.Response {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
		t.Fatalf("decoding %s: %v", u, err)
	}
	return resp
}

// postForm posts form to the server path with optional Basic credentials and
// decodes a JSON answer.
func postForm(t *testing.T, s *Server, path string, form url.Values, basicUser, basicPass string) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.URL()+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicUser != "" {
		req.SetBasicAuth(url.QueryEscape(basicUser), url.QueryEscape(basicPass))
	}
	resp, err := noFollow(s).Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatalf("POST %s: not JSON (%d): %s", path, resp.StatusCode, body)
		}
	}
	return resp.StatusCode, out, resp.Header
}

func pkcePair(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// authorizeURL builds an authorization request for the default client.
func authorizeURL(s *Server, extra url.Values) string {
	q := url.Values{
		"client_id":     {DefaultClientID},
		"redirect_uri":  {testRedirect},
		"response_type": {"code"},
		"scope":         {"openid aliuid profile"},
		"state":         {"st-123"},
		"nonce":         {"n-456"},
	}
	for k, v := range extra {
		q[k] = v
	}
	return s.URL() + PathAuthorize + "?" + q.Encode()
}

// redirectParams checks that resp redirects to testRedirect and returns its query.
func redirectParams(t *testing.T, resp *http.Response) url.Values {
	t.Helper()
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("want a redirect, got %d: %s", resp.StatusCode, b)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatalf("bad Location: %v", err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != testRedirect {
		t.Fatalf("redirected to %s, want %s", got, testRedirect)
	}
	return loc.Query()
}

var hiddenReq = regexp.MustCompile(`name="req" value="([^"]+)"`)

func formReq(t *testing.T, html string) string {
	t.Helper()
	m := hiddenReq.FindStringSubmatch(html)
	if m == nil {
		t.Fatalf("no req field in page:\n%s", html)
	}
	return m[1]
}

// jwksKeys fetches the JWKS over HTTPS and converts it to public keys by kid.
func jwksKeys(t *testing.T, s *Server) map[string]crypto.PublicKey {
	t.Helper()
	var set struct{ Keys []map[string]string }
	getJSON(t, s.Client(), s.URL()+PathJWKS, &set)
	out := map[string]crypto.PublicKey{}
	b64 := func(v string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil {
			t.Fatalf("bad base64url %q: %v", v, err)
		}
		return b
	}
	for _, k := range set.Keys {
		switch k["kty"] {
		case "RSA":
			out[k["kid"]] = &rsa.PublicKey{N: new(big.Int).SetBytes(b64(k["n"])), E: int(new(big.Int).SetBytes(b64(k["e"])).Int64())}
		case "EC":
			curve := map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384()}[k["crv"]]
			out[k["kid"]] = &ecdsa.PublicKey{Curve: curve, X: new(big.Int).SetBytes(b64(k["x"])), Y: new(big.Int).SetBytes(b64(k["y"]))}
		case "OKP":
			out[k["kid"]] = ed25519.PublicKey(b64(k["x"]))
		default:
			t.Fatalf("unexpected kty in %v", k)
		}
	}
	return out
}

// verify checks raw with golang-jwt against the published JWKS.
func verify(t *testing.T, s *Server, raw string) (jwt.MapClaims, *jwt.Token, error) {
	t.Helper()
	keys := jwksKeys(t, s)
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(raw, claims, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		if k, ok := keys[kid]; ok {
			return k, nil
		}
		return nil, jwt.ErrTokenUnverifiable
	}, jwt.WithValidMethods([]string{"RS256", "RS384", "PS256", "ES256", "EdDSA"}),
		jwt.WithIssuer(s.Issuer()), jwt.WithExpirationRequired())
	return claims, tok, err
}
