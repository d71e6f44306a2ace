package demoidp

import (
	"time"

	"go.uber.org/zap"
)

// Defaults used when Options leave a field empty.
const (
	// DefaultClientID is the client_id of the default confidential web client.
	DefaultClientID = "edgeauth-demo"
	// DefaultClientSecret is the client_secret of the default web client.
	DefaultClientSecret = "edgeauth-demo-secret"
	// DefaultAccessTokenTTL matches Alibaba Cloud's default access-token validity.
	DefaultAccessTokenTTL = time.Hour
	// DefaultIDTokenTTL is the default lifetime of ID tokens.
	DefaultIDTokenTTL = time.Hour
	// DefaultRefreshTokenTTL matches Alibaba Cloud's default for web apps (90 days).
	DefaultRefreshTokenTTL = 90 * 24 * time.Hour
	// DefaultJWKSCacheControl is the Cache-Control of JWKS answers until
	// SetJWKSCacheControl changes it.
	DefaultJWKSCacheControl = "public, max-age=300"
)

// Options configure a Server. The zero value gives an HTTPS provider on
// 127.0.0.1 with a random port, DefaultClient and DefaultUsers.
type Options struct {
	// Addr is the listen address; default "127.0.0.1:0".
	Addr string
	// PlainHTTP serves http:// instead of the default HTTPS. (A bool that
	// defaults to true cannot be a Go zero value, hence the inverted name.)
	PlainHTTP bool
	// TLSLeafOnly presents only the server certificate in the TLS handshake,
	// not the CA that signed it, so the CA appears only in the chain the
	// client builds from its own roots.
	TLSLeafOnly bool
	// KeyAlg is the algorithm of the first signing key (any AddKey takes);
	// default RS256. ES256 keys are much faster to generate than RSA ones.
	KeyAlg string
	// KeyID is the kid of the first signing key; default its RFC 7638
	// thumbprint, like every key RotateKey and AddKey make.
	KeyID string

	// Clients are the registered OAuth clients; default []Client{DefaultClient()}.
	Clients []Client
	// Users are the accounts that can sign in; default DefaultUsers().
	Users []User

	// AccessTokenTTL, IDTokenTTL and RefreshTokenTTL are token lifetimes
	// (defaults: 1h, 1h, 90 days).
	AccessTokenTTL, IDTokenTTL, RefreshTokenTTL time.Duration

	// RotateRefreshTokens issues a new refresh token on every refresh and
	// invalidates the old one; reusing the old one then gives invalid_grant.
	// Without rotation the refresh response carries no refresh_token (as in
	// Alibaba Cloud's older documentation) and the old one stays valid.
	RotateRefreshTokens bool
	// RevokeFamilyOnReuse also revokes every refresh token descended from the
	// same login when a rotated-out refresh token is presented (OAuth 2.0
	// Security BCP). Only meaningful with RotateRefreshTokens.
	RevokeFamilyOnReuse bool
	// AlwaysIssueRefreshTokens returns a refresh token even without
	// access_type=offline.
	AlwaysIssueRefreshTokens bool
	// RefreshReturnsIDToken includes a fresh id_token in refresh responses.
	RefreshReturnsIDToken bool

	// OpaqueAccessTokens issues random opaque access tokens (validated through
	// /userinfo or /introspect) instead of JWTs.
	OpaqueAccessTokens bool
	// UserinfoStatesClient adds `aud` and `azp` (the client the access token
	// was issued to) to userinfo answers, as some providers do. Without it the
	// answer carries no audience at all, as Alibaba Cloud's does.
	UserinfoStatesClient bool
	// ExpiresInAsString sends expires_in as a JSON string ("3600"), as Alibaba
	// Cloud sometimes does.
	ExpiresInAsString bool

	// AutoApprove skips the consent page; with login_hint naming a known user
	// the authorize request redirects straight back with a code, so a plain
	// http.Client can complete the flow. It can be changed with SetAutoApprove.
	AutoApprove bool
	// RequirePKCE refuses authorization requests without code_challenge.
	// Public clients (no secret) always need PKCE.
	RequirePKCE bool

	// Now is the clock used for token times; default time.Now.
	Now func() time.Time
	// Logger receives one debug line per request (method, path, status; never
	// query strings, tokens or secrets). Default: no logging.
	Logger *zap.Logger
}

// Client is a registered OAuth 2.0 client.
type Client struct {
	// ID is the client_id.
	ID string
	// Secret is the client_secret; empty means a public client, which must
	// use PKCE and authenticates with client_id alone.
	Secret string
	// RedirectURIs are matched exactly (string equality) against redirect_uri.
	RedirectURIs []string
	// PostLogoutRedirectURIs are matched exactly against post_logout_redirect_uri.
	PostLogoutRedirectURIs []string
	// AllowLoopbackRedirects also accepts any http(s) redirect URI (and
	// post-logout redirect URI) on 127.0.0.1, [::1] or localhost, any port and
	// path, without a fragment. Meant for the demo, whose ports are not known
	// in advance.
	AllowLoopbackRedirects bool
	// Scopes, when set, is the list of scopes this client may request; it is
	// also what an authorization request without scope asks for.
	Scopes []string
}

// User is an account that can sign in, modelled on Alibaba Cloud RAM
// identities. Claims are released by scope: aid and uid with "aliuid";
// type, name, upn and login_name with "profile"; email with "email".
type User struct {
	// Username is what the login form and login_hint take.
	Username string
	// Password is the demo password (shown on the login page).
	Password string
	// Subject is the sub claim (opaque).
	Subject string
	// Type is "account" (root), "user" (RAM user) or "role" (role session).
	Type string
	// Name is the display name; for a role, "RoleName:SessionName".
	Name string
	// UPN is the RAM user logon name, e.g. alice@example.onaliyun.com.
	UPN string
	// LoginName is the root account logon name (type account only).
	LoginName string
	// Email is released with the "email" scope.
	Email string
	// AccountID is the aid claim: the owning Alibaba Cloud account ID.
	AccountID string
	// UID is the uid claim: account ID, RAM user ID or RAM role ID.
	UID string
	// Scopes are the scopes this user may grant. A requested scope outside this
	// list is left out of the tokens and of the granted scope.
	Scopes []string
}

// DefaultClient returns the default confidential web client: DefaultClientID /
// DefaultClientSecret, accepting any loopback redirect URI.
func DefaultClient() Client {
	return Client{
		ID:                     DefaultClientID,
		Secret:                 DefaultClientSecret,
		AllowLoopbackRedirects: true,
	}
}

// Account IDs used by DefaultUsers.
const (
	DemoAccountID = "1000000000000000"
)

// DefaultUsers returns the demo users:
//
//	root  / root-pass   type account, the account owner; may grant every demo scope
//	alice / alice-pass  RAM user alice@example.onaliyun.com; may grant /acs/alidns
//	bob   / bob-pass    RAM user bob@example.onaliyun.com; no /acs/* scopes
//	ops   / ops-pass    role session "ops-admin:ops"; may grant /acs/alidns and /acs/ecs
func DefaultUsers() []User {
	base := []string{"openid", "aliuid", "profile", "email"}
	with := func(extra ...string) []string { return append(append([]string{}, base...), extra...) }
	return []User{
		{
			Username: "root", Password: "root-pass",
			Subject: DemoAccountID, Type: "account", Name: "Example Corp",
			LoginName: "owner@example.com", Email: "owner@example.com",
			AccountID: DemoAccountID, UID: DemoAccountID,
			Scopes: with("/acs/alidns", "/acs/ecs", "/acs/oss"),
		},
		{
			Username: "alice", Password: "alice-pass",
			Subject: "2000000000000002", Type: "user", Name: "Alice Liddell",
			UPN: "alice@example.onaliyun.com", Email: "alice@example.com",
			AccountID: DemoAccountID, UID: "2000000000000002",
			Scopes: with("/acs/alidns"),
		},
		{
			Username: "bob", Password: "bob-pass",
			Subject: "2000000000000003", Type: "user", Name: "Bob Builder",
			UPN: "bob@example.onaliyun.com", Email: "bob@example.com",
			AccountID: DemoAccountID, UID: "2000000000000003",
			Scopes: with(),
		},
		{
			Username: "ops", Password: "ops-pass",
			Subject: "300000000000000001:ops", Type: "role", Name: "ops-admin:ops",
			Email:     "ops@example.com",
			AccountID: DemoAccountID, UID: "300000000000000001",
			Scopes: with("/acs/alidns", "/acs/ecs"),
		},
	}
}

// baseScopes are always advertised in scopes_supported.
var baseScopes = []string{"openid", "aliuid", "profile", "email", "/acs/alidns", "/acs/ecs", "/acs/oss"}

func (o *Options) withDefaults() Options {
	c := *o
	if c.Addr == "" {
		c.Addr = "127.0.0.1:0"
	}
	if c.KeyAlg == "" {
		c.KeyAlg = "RS256"
	}
	if len(c.Clients) == 0 {
		c.Clients = []Client{DefaultClient()}
	}
	if len(c.Users) == 0 {
		c.Users = DefaultUsers()
	}
	if c.AccessTokenTTL <= 0 {
		c.AccessTokenTTL = DefaultAccessTokenTTL
	}
	if c.IDTokenTTL <= 0 {
		c.IDTokenTTL = DefaultIDTokenTTL
	}
	if c.RefreshTokenTTL <= 0 {
		c.RefreshTokenTTL = DefaultRefreshTokenTTL
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}
