package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/edgeauth/caddy-edgeauth/module/identity"
	"github.com/edgeauth/caddy-edgeauth/module/token"
)

// BackChannelLogoutEvent is the event a logout token must carry.
const BackChannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// maxLogoutRequestSize bounds the POST body of a back-channel logout.
const maxLogoutRequestSize = 64 << 10

// LogoutTokenVerifier checks a JWT's signature, iss, aud (the client ID),
// exp, iat and typ and returns its claims (numbers as json.Number). Use a
// *token.Verifier built with LogoutTokenRules: an ID token verifier
// refuses logout tokens (their events claim and typ), and a bearer one
// would accept other kinds of token.
type LogoutTokenVerifier interface {
	Verify(ctx context.Context, raw string) (*identity.Identity, error)
}

// LogoutTokenRules returns the rules of the provider's ID tokens (issuer,
// audience: the client ID, algorithms, clock skew) adapted to logout
// tokens (OIDC Back-Channel Logout 1.0 §2.4): typ must be logout+jwt when
// present, and the events claim is allowed (checkLogoutClaims requires it).
func LogoutTokenRules(idTokenRules token.Rules) token.Rules {
	r := idTokenRules
	r.Types = token.LogoutTokenTypes
	r.EventTokens = true
	return r
}

// LogoutToken is a verified logout token.
type LogoutToken struct {
	// Issuer is `iss`; SessionID is `sid` and Subject `sub` (at least one
	// is set); ID is `jti`.
	Issuer, SessionID, Subject, ID string
	// IssuedAt is `iat`.
	IssuedAt time.Time

	// mark is the random value recorded for the jti, so that only this
	// request can forget it again (compare-and-delete).
	mark string
}

// InvalidLogoutTokenError is a logout token that was refused. Description
// is safe to show and log (it never holds the token).
type InvalidLogoutTokenError struct {
	Description string
}

// Error implements error.
func (e *InvalidLogoutTokenError) Error() string {
	return "fleet: invalid logout token: " + e.Description
}

func invalidLogout(desc string) error { return &InvalidLogoutTokenError{Description: desc} }

// BackChannelConfig configures a BackChannel.
type BackChannelConfig struct {
	// Verifier checks the token (signature, iss, aud, exp, iat). Required.
	Verifier LogoutTokenVerifier
	// MaxAge: a token whose iat is older is refused (default 5m).
	MaxAge time.Duration
	// ClockSkew is tolerated on iat (default 30s).
	ClockSkew time.Duration
	// Now is the clock (default time.Now); use the verifier's clock.
	Now func() time.Time
	// Logger receives no tokens. Default: a no-op logger.
	Logger *zap.Logger
}

// BackChannel implements OpenID Connect Back-Channel Logout 1.0 for one
// provider: it verifies logout tokens and ends the matching sessions of a
// Store on every instance. Mount it at <login prefix>backchannel_logout
// and register that URL at the provider as backchannel_logout_uri.
type BackChannel struct {
	store *Store
	cfg   BackChannelConfig
}

// NewBackChannel returns a back-channel logout endpoint for store.
func NewBackChannel(store *Store, cfg BackChannelConfig) (*BackChannel, error) {
	if store == nil || cfg.Verifier == nil {
		return nil, errors.New("fleet: back-channel logout needs the Redis session store and the provider's token verifier")
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 5 * time.Minute
	}
	if cfg.ClockSkew <= 0 {
		cfg.ClockSkew = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	return &BackChannel{store: store, cfg: cfg}, nil
}

// VerifyLogoutToken checks raw with v (signature, iss, aud, exp, iat) and
// then the Back-Channel Logout 1.0 §2.6 rules: `events` is an object with
// the back-channel-logout member (an object), no `nonce`, `sid` or `sub`
// present, `jti` present, `iat` within MaxAge (plus skew) and not in the
// future. Finally the jti is recorded in Redis (SET NX, for MaxAge plus
// twice the skew) so a replay is refused. Errors are
// *InvalidLogoutTokenError, or ErrUnavailable ones (Redis down, or the
// verifier's keys not loaded: a *token.Error of kind Unavailable).
func (b *BackChannel) VerifyLogoutToken(ctx context.Context, raw string, v LogoutTokenVerifier) (*LogoutToken, error) {
	if raw == "" {
		return nil, invalidLogout("logout_token is missing")
	}
	id, err := v.Verify(ctx, raw)
	if err != nil {
		var te *token.Error
		if errors.As(err, &te) {
			if te.Kind == token.Unavailable {
				// The provider's keys have not loaded: not the token's fault.
				return nil, &UnavailableError{Op: "verify logout token", RetryAfter: te.RetryAfter, Err: err}
			}
			return nil, invalidLogout(te.Description)
		}
		return nil, invalidLogout("token verification failed")
	}
	lt, err := checkLogoutClaims(id, b.cfg.Now(), b.cfg.MaxAge, b.cfg.ClockSkew)
	if err != nil {
		return nil, err
	}
	jtiKey := b.store.c.key("jti", lt.Issuer, lt.ID)
	lt.mark = randomToken()
	var fresh bool
	err = b.store.c.call(ctx, "record logout token", func(ctx context.Context) error {
		var e error
		fresh, e = b.store.c.rdb.SetNX(ctx, jtiKey, lt.mark, b.cfg.MaxAge+2*b.cfg.ClockSkew).Result()
		return e
	})
	if err != nil {
		return nil, err
	}
	if !fresh {
		return nil, invalidLogout("logout token already used (jti replayed)")
	}
	return lt, nil
}

// checkLogoutClaims applies the logout-token rules the verifier leaves.
func checkLogoutClaims(id *identity.Identity, now time.Time, maxAge, skew time.Duration) (*LogoutToken, error) {
	c := id.Claims
	events, ok := c["events"].(map[string]any)
	if !ok {
		return nil, invalidLogout("events claim missing or not an object")
	}
	if _, ok := events[BackChannelLogoutEvent].(map[string]any); !ok {
		return nil, invalidLogout("events claim lacks the back-channel logout event object")
	}
	if _, present := c["nonce"]; present {
		return nil, invalidLogout("logout token must not contain a nonce")
	}
	lt := &LogoutToken{Issuer: id.Issuer}
	if iss, ok := c["iss"].(string); ok && iss != "" {
		lt.Issuer = iss
	}
	if lt.Issuer == "" {
		return nil, invalidLogout("iss claim missing")
	}
	var err error
	if lt.SessionID, err = optionalString(c, "sid"); err != nil {
		return nil, err
	}
	if lt.Subject, err = optionalString(c, "sub"); err != nil {
		return nil, err
	}
	if lt.SessionID == "" && lt.Subject == "" {
		return nil, invalidLogout("logout token has neither sid nor sub")
	}
	if lt.ID, err = optionalString(c, "jti"); err != nil {
		return nil, err
	}
	if lt.ID == "" {
		return nil, invalidLogout("jti claim missing")
	}
	iat, ok := c["iat"].(json.Number)
	if !ok {
		return nil, invalidLogout("iat claim missing or not a number")
	}
	if lt.IssuedAt, ok = token.NumericDate(iat); !ok {
		return nil, invalidLogout("iat claim is not a valid time")
	}
	if lt.IssuedAt.After(now.Add(skew)) {
		return nil, invalidLogout("logout token issued in the future")
	}
	if now.Sub(lt.IssuedAt) > maxAge+skew {
		return nil, invalidLogout("logout token too old (iat)")
	}
	return lt, nil
}

func optionalString(c map[string]any, name string) (string, error) {
	v, present := c[name]
	if !present {
		return "", nil
	}
	s, ok := v.(string)
	if !ok || s == "" {
		return "", invalidLogout(name + " claim is not a non-empty string")
	}
	return s, nil
}

// ServeHTTP handles a back-channel logout request (§2.5): a POST with the
// form parameter logout_token. 200 when the token is valid and its
// sessions have been ended (also when there were none); 400
// {"error":"invalid_request"} for a missing or invalid token; 405 for other
// methods; 503 with Retry-After when Redis is unavailable (the jti is then
// not consumed, so the provider may retry). Responses are Cache-Control:
// no-store.
func (b *BackChannel) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "invalid_request", "use POST")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		writeError(w, http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxLogoutRequestSize)
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "the form could not be read")
		return
	}
	tokens := r.PostForm["logout_token"]
	if len(tokens) != 1 {
		writeError(w, http.StatusBadRequest, "invalid_request", "exactly one logout_token is required")
		return
	}
	lt, err := b.VerifyLogoutToken(r.Context(), tokens[0], b.cfg.Verifier)
	if err != nil {
		b.fail(w, err)
		return
	}
	n, err := b.store.EndIssuedBefore(r.Context(), lt.Issuer, lt.SessionID, lt.Subject, lt.IssuedAt)
	if err != nil {
		b.forgetJTI(r.Context(), lt)
		b.fail(w, err)
		return
	}
	b.cfg.Logger.Info("back-channel logout", zap.String("iss", lt.Issuer), zap.Bool("by_sid", lt.SessionID != ""), zap.Int("sessions_ended", n))
	w.WriteHeader(http.StatusOK)
}

// forgetJTI lets the provider retry a logout that could not be carried
// out: it deletes the jti record (best effort), but only the one this
// request made (compare-and-delete on its random mark).
func (b *BackChannel) forgetJTI(ctx context.Context, lt *LogoutToken) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	_ = b.store.c.call(rctx, "forget logout token", func(ctx context.Context) error {
		return unlockScript.Run(ctx, b.store.c.rdb, []string{b.store.c.key("jti", lt.Issuer, lt.ID)}, lt.mark).Err()
	})
}

func (b *BackChannel) fail(w http.ResponseWriter, err error) {
	if ra, ok := RetryAfter(err); ok {
		b.cfg.Logger.Error("back-channel logout: session store unavailable", zap.Error(err))
		w.Header().Set("Retry-After", strconv.Itoa(int(ra/time.Second)))
		writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the session store is unavailable; retry later")
		return
	}
	desc := "invalid logout token"
	var ie *InvalidLogoutTokenError
	if errors.As(err, &ie) {
		desc = ie.Description
	}
	b.cfg.Logger.Info("back-channel logout refused", zap.String("reason", desc))
	writeError(w, http.StatusBadRequest, "invalid_request", desc)
}

func writeError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}
