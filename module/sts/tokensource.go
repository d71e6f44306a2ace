package sts

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/edgeauth/caddy-edgeauth/module/clientauth"
	"github.com/edgeauth/caddy-edgeauth/module/logsafe"
)

// TokenSource supplies the gateway's own (workload) OIDC token, for
// exchanges made on behalf of the gateway rather than a caller. The expiry is
// zero when unknown.
type TokenSource interface {
	Token(ctx context.Context) (token string, expiry time.Time, err error)
}

// FileTokenSource reads a token from a file on every call, because the file
// is rotated underneath us (Kubernetes projected tokens, ACK RRSA), as
// credentials-go does with ALIBABA_CLOUD_OIDC_TOKEN_FILE.
type FileTokenSource struct {
	path string
}

// NewFileTokenSource returns a source reading path. The file is not read
// until Token is called.
func NewFileTokenSource(path string) *FileTokenSource {
	return &FileTokenSource{path: path}
}

// Token reads the file, trims surrounding whitespace and reports the JWT's
// `exp` as the expiry. A JWT whose exp has passed is an error (the file is
// stale), not a token to send.
func (f *FileTokenSource) Token(ctx context.Context) (string, time.Time, error) {
	if err := ctx.Err(); err != nil {
		return "", time.Time{}, err
	}
	b, err := os.ReadFile(f.path)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sts: cannot read the token file: %w; check the path and its permissions", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", time.Time{}, fmt.Errorf("sts: the token file %s is empty; whatever writes it has not done so yet", f.path)
	}
	// The expiry is read WITHOUT verifying the signature: it only tells the
	// cache when to stop reusing credentials, and keeps a stale token from
	// being sent. The STS verifies the token.
	exp := jwtExpiry(tok)
	if !exp.IsZero() && !time.Now().Before(exp) {
		return "", time.Time{}, fmt.Errorf("sts: the token in %s expired at %s; whatever rotates the file has stopped", f.path, exp.UTC().Format(time.RFC3339))
	}
	return tok, exp, nil
}

// ClientCredentialsConfig configures a ClientCredentialsSource.
type ClientCredentialsConfig struct {
	// TokenEndpoint is the OAuth token endpoint (https; http only on loopback).
	TokenEndpoint string
	// ClientID and ClientSecret authenticate the gateway.
	ClientID, ClientSecret string
	// Scopes are requested (space-joined).
	Scopes []string
	// AuthMethod is client_secret_basic (default) or client_secret_post.
	AuthMethod string
	// EndpointParams are extra form parameters (e.g. audience, resource).
	EndpointParams url.Values
	// RefreshMargin: a token is fetched anew this long before it expires.
	// Default 1m (or less for very short tokens: at most half the lifetime).
	RefreshMargin time.Duration
	// HTTPClient sends the requests. Default: a plain http.Client.
	HTTPClient *http.Client
	// Timeout bounds one token request. Default 5s.
	Timeout time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// ClientCredentialsSource gets a token with the OAuth client-credentials
// grant and reuses it until shortly before it expires. Concurrent callers
// share one request.
type ClientCredentialsSource struct {
	cfg  ClientCredentialsConfig
	occ  clientcredentials.Config
	mu   sync.Mutex // serialises fetches; guards the fields below
	tok  string
	exp  time.Time
	good time.Time // reuse tok until this time
}

// NewClientCredentialsSource checks the config and returns a source. It does
// no network I/O.
func NewClientCredentialsSource(cfg ClientCredentialsConfig) (*ClientCredentialsSource, error) {
	if _, err := parseEndpoint(cfg.TokenEndpoint, "token_endpoint"); err != nil {
		return nil, fmt.Errorf("sts client credentials: %w", err)
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("sts client credentials: client_id and client_secret are both required")
	}
	if err := checkSecretMethod(cfg.AuthMethod); err != nil {
		return nil, fmt.Errorf("sts client credentials: %w", err)
	}
	style := oauth2.AuthStyleInHeader
	if cfg.AuthMethod == clientauth.SecretPost {
		style = oauth2.AuthStyleInParams
	}
	if cfg.RefreshMargin <= 0 {
		cfg.RefreshMargin = time.Minute
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	return &ClientCredentialsSource{cfg: cfg, occ: clientcredentials.Config{
		ClientID:       cfg.ClientID,
		ClientSecret:   cfg.ClientSecret,
		TokenURL:       cfg.TokenEndpoint,
		Scopes:         cfg.Scopes,
		EndpointParams: cfg.EndpointParams,
		AuthStyle:      style,
	}}, nil
}

// Token returns the cached token or fetches a new one.
func (s *ClientCredentialsSource) Token(ctx context.Context) (string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	if s.tok != "" && now.Before(s.good) {
		return s.tok, s.exp, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, s.cfg.HTTPClient)
	t, err := s.occ.Token(ctx)
	if err != nil {
		return "", time.Time{}, clientCredentialsError(err, s.cfg.ClientSecret)
	}
	s.tok, s.exp = t.AccessToken, t.Expiry
	if s.exp.IsZero() {
		s.exp = jwtExpiry(s.tok)
	}
	switch {
	case s.exp.IsZero():
		s.good = now // unknown lifetime: fetch again next time
	default:
		margin := min(s.cfg.RefreshMargin, s.exp.Sub(now)/2)
		s.good = s.exp.Add(-margin)
	}
	return s.tok, s.exp, nil
}

// clientCredentialsError keeps the OAuth error code and description but not
// the raw body, nor the client secret should the endpoint echo it.
func clientCredentialsError(err error, secret string) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		return fmt.Errorf("sts client credentials: the token endpoint refused the request (HTTP %d, error %q: %s); check client_id, client_secret and scopes",
			status, logsafe.Message(re.ErrorCode, secret), logsafe.Message(re.ErrorDescription, secret))
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("sts client credentials: cannot reach the token endpoint: %v", ue.Err)
	}
	return fmt.Errorf("sts client credentials: %v", err)
}
