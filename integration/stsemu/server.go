// Package stsemu is a local, faithful emulator of Alibaba Cloud STS
// AssumeRoleWithOIDC together with the RAM OIDC identity-provider rules it
// depends on (docs/PROTOCOL.md §2, §3). End-to-end tests and the demo binary run
// it on loopback.
//
// It verifies tokens as STS does: the token's issuer must be a registered
// provider, `aud` one of its client IDs, `iat` within its issuance window,
// the signature valid under the JWKS found through the issuer's discovery
// document over HTTPS, and the JWKS host's TLS chain must contain a
// certificate whose SHA-1 matches a registered fingerprint. The role's trust
// policy then decides.
package stsemu

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

const timeLayout = "2006-01-02T15:04:05Z"

// Options configure the emulator.
type Options struct {
	// AccountID is the Alibaba Cloud account UID. Default "1000000000000000".
	AccountID string
	// HTTPClient fetches IdP discovery and JWKS over TLS; tests pass a client
	// that trusts the IdP's CA. Default: a client with system roots.
	HTTPClient *http.Client
	// Now is the clock for token checks and credential expiry. Default time.Now.
	Now func() time.Time
	// CredentialTTL, when set, overrides the lifetime of issued credentials
	// (normally DurationSeconds), e.g. to test refresh quickly.
	CredentialTTL time.Duration
	// RetryAfter, when set, is sent as a Retry-After header (whole seconds)
	// with injected throttling and 5xx answers. The real service's headers
	// are UNCONFIRMED, so the default sends none.
	RetryAfter time.Duration
	// SourceIdentityClaim, when set, names a string claim of the OIDC token
	// echoed as SourceIdentity. INVENTED: how real STS fills SourceIdentity
	// is not documented in docs/PROTOCOL.md.
	SourceIdentityClaim string
}

// Outcome names used by Counts besides error codes.
const (
	// OutcomeSuccess counts issued credentials.
	OutcomeSuccess = "Success"
)

// Issued records credentials the emulator handed out, so tests can compare
// them with what the upstream received.
//
// The request side: RequestID, RoleArn, ProviderArn, SessionName, Policy and
// DurationSeconds as received; Subject, Issuer and Audience from the verified
// token. The answer side: AccessKeyID, AccessKeySecret, SecurityToken and
// Expiration as issued.
type Issued struct {
	RequestID, RoleArn, ProviderArn, SessionName string
	Subject, Issuer                              string
	Audience                                     []string
	Policy                                       string
	DurationSeconds                              int
	AccessKeyID, AccessKeySecret, SecurityToken  string
	Expiration                                   time.Time
}

// Server is the emulator.
type Server struct {
	opts Options
	ts   *httptest.Server
	done chan struct{}

	mu        sync.Mutex
	providers map[string]*Provider
	roles     map[string]*Role
	counts    map[string]int
	issued    []Issued
	throttle  int
	fail5xx   int
	hang      time.Duration
	closeOnce sync.Once
}

// New returns an emulator that is not listening yet; call Start or StartTLS.
func New(opts Options) *Server {
	if opts.AccountID == "" {
		opts.AccountID = "1000000000000000"
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:      opts,
		done:      make(chan struct{}),
		providers: map[string]*Provider{},
		roles:     map[string]*Role{},
		counts:    map[string]int{},
	}
	s.ts = httptest.NewUnstartedServer(s.Handler())
	return s
}

// Start serves plain HTTP on a loopback port (the sts client allows http for
// loopback hosts).
func (s *Server) Start() { s.ts.Start() }

// StartTLS serves HTTPS on a loopback port with a self-signed certificate for
// 127.0.0.1; Client and Certificate give what a client needs to trust it.
func (s *Server) StartTLS() { s.ts.StartTLS() }

// URL is the base URL, e.g. http://127.0.0.1:34567.
func (s *Server) URL() string { return s.ts.URL }

// Addr is the listening host:port.
func (s *Server) Addr() string { return s.ts.Listener.Addr().(*net.TCPAddr).String() }

// Client returns an HTTP client that trusts the server (after StartTLS).
func (s *Server) Client() *http.Client { return s.ts.Client() }

// Certificate returns the TLS certificate (after StartTLS), or nil.
func (s *Server) Certificate() []byte {
	if c := s.ts.Certificate(); c != nil {
		return c.Raw
	}
	return nil
}

// Close stops the server, releasing hanging requests first.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.done) })
	s.ts.Close()
}

// AccountID is the account UID used in ARNs.
func (s *Server) AccountID() string { return s.opts.AccountID }

func (s *Server) now() time.Time { return s.opts.Now() }

// Handler serves the STS API at / and the admin API under /admin/. Use it to
// mount the emulator in another server (the demo binary).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/admin/oidc-providers", s.adminProviders)
	mux.HandleFunc("/admin/oidc-providers/{name}", s.adminProvider)
	mux.HandleFunc("/{$}", s.serveSTS)
	return mux
}

// SetThrottle makes the next n STS requests fail with HTTP 400
// Throttling.User (the usual Alibaba status; docs/PROTOCOL.md allows 400/429).
func (s *Server) SetThrottle(n int) {
	s.mu.Lock()
	s.throttle = n
	s.mu.Unlock()
}

// SetFail5xx makes the next n STS requests fail with HTTP 503
// ServiceUnavailable.
func (s *Server) SetFail5xx(n int) {
	s.mu.Lock()
	s.fail5xx = n
	s.mu.Unlock()
}

// SetHang makes every STS request wait d before it is handled (0 turns it
// off). A request whose client goes away, or a Close, ends the wait.
func (s *Server) SetHang(d time.Duration) {
	s.mu.Lock()
	s.hang = d
	s.mu.Unlock()
}

// Counts returns how many STS requests ended in each outcome: "Success" or
// the error code (Throttling.User, ServiceUnavailable,
// AuthenticationFail.OIDCToken.Expired …), or "Hang" for a request cut
// short while SetHang held it.
func (s *Server) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

// Requests is the total number of STS requests received.
func (s *Server) Requests() int {
	n := 0
	for _, v := range s.Counts() {
		n += v
	}
	return n
}

// Issued returns every credential issued so far, oldest first.
func (s *Server) Issued() []Issued {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Issued, len(s.issued))
	copy(out, s.issued)
	return out
}

// LookupAccessKey finds issued credentials by access key ID, so an upstream
// can check what it was given.
func (s *Server) LookupAccessKey(id string) (Issued, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, is := range s.issued {
		if is.AccessKeyID == id {
			return is, true
		}
	}
	return Issued{}, false
}

func (s *Server) count(outcome string) {
	s.mu.Lock()
	s.counts[outcome]++
	s.mu.Unlock()
}
