package demoidp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Server is a running (or ready to run) demo OpenID provider.
type Server struct {
	opts   Options
	ca     *authority
	keys   keySet
	ln     net.Listener
	srv    *http.Server
	mux    *http.ServeMux
	issuer string

	startOnce sync.Once
	closeOnce sync.Once
	closing   chan struct{}

	faults      faults
	counts      counters
	autoApprove atomic.Bool
	stated      atomic.Pointer[string] // SetStatedIssuer; nil: the issuer
	jwksCache   atomic.Pointer[string] // SetJWKSCacheControl

	mu      sync.Mutex
	state   store
	foreign map[string]*signingKey // WithForeignKey's keys by algorithm
}

// New validates opts, generates the CA, the TLS certificate and the first
// RSA-2048 signing key, and binds the listener, so URL is known at once.
// Call Start to serve and Close to stop.
func New(opts Options) (*Server, error) {
	o := opts.withDefaults()
	if err := validateOptions(&o); err != nil {
		return nil, err
	}
	s := &Server{opts: o, closing: make(chan struct{}), state: newStore()}
	s.autoApprove.Store(o.AutoApprove)
	s.SetJWKSCacheControl(DefaultJWKSCacheControl)
	first, err := generateKey(o.KeyAlg)
	if err != nil {
		return nil, err
	}
	if o.KeyID != "" {
		first.kid = o.KeyID
	}
	s.keys.add(first, true)

	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("demoidp: listening on %s: %w", o.Addr, err)
	}
	scheme := "http"
	if !o.PlainHTTP {
		if s.ca, err = newAuthority(); err != nil {
			ln.Close()
			return nil, err
		}
		cert := s.ca.leaf
		if o.TLSLeafOnly {
			cert.Certificate = cert.Certificate[:1]
		}
		ln = tls.NewListener(ln, &tls.Config{
			Certificates: []tls.Certificate{cert},
			MinVersion:   tls.VersionTLS12,
			NextProtos:   []string{"h2", "http/1.1"},
		})
		scheme = "https"
	}
	s.ln = ln
	s.issuer = scheme + "://" + ln.Addr().String()
	s.srv = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          zap.NewStdLog(o.Logger),
	}
	return s, nil
}

func validateOptions(o *Options) error {
	seen := map[string]bool{}
	for _, c := range o.Clients {
		if c.ID == "" {
			return errors.New("demoidp: a client has an empty ID; set Client.ID")
		}
		if seen[c.ID] {
			return fmt.Errorf("demoidp: client %q is registered twice", c.ID)
		}
		seen[c.ID] = true
		if len(c.RedirectURIs) == 0 && !c.AllowLoopbackRedirects {
			return fmt.Errorf("demoidp: client %q has no RedirectURIs; register some or set AllowLoopbackRedirects", c.ID)
		}
	}
	users := map[string]bool{}
	for _, u := range o.Users {
		if u.Username == "" || u.Subject == "" {
			return fmt.Errorf("demoidp: user %q needs both Username and Subject", u.Username)
		}
		if users[u.Username] {
			return fmt.Errorf("demoidp: user %q is configured twice", u.Username)
		}
		users[u.Username] = true
	}
	return nil
}

// Start serves requests in the background. It may be called once.
func (s *Server) Start() error {
	started := false
	s.startOnce.Do(func() {
		started = true
		go func() {
			if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.opts.Logger.Error("demoidp: serve failed", zap.Error(err))
			}
		}()
	})
	if !started {
		return errors.New("demoidp: Start called twice")
	}
	return nil
}

// Close stops the server at once, cutting hung requests short.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.closing)
		err = s.srv.Close()
		s.ln.Close()
	})
	return err
}

// Shutdown stops the server gracefully, waiting for requests in flight until
// ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeOnce.Do(func() { close(s.closing) })
	return s.srv.Shutdown(ctx)
}

// URL returns the base URL, e.g. https://127.0.0.1:43123 (no trailing slash).
func (s *Server) URL() string { return s.issuer }

// Issuer returns the issuer identifier; it equals URL.
func (s *Server) Issuer() string { return s.issuer }

// Addr returns the listen address (host:port).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// SetAutoApprove switches AutoApprove at run time.
func (s *Server) SetAutoApprove(on bool) { s.autoApprove.Store(on) }

// Endpoint paths, relative to the issuer.
const (
	PathDiscovery  = "/.well-known/openid-configuration"
	PathJWKS       = "/jwks"
	PathAuthorize  = "/authorize"
	PathLogin      = "/authorize/login"
	PathConsent    = "/authorize/consent"
	PathToken      = "/token"
	PathUserinfo   = "/userinfo"
	PathIntrospect = "/introspect"
	PathRevoke     = "/revoke"
	PathLogout     = "/logout"
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	s.mux = mux
	c := &s.counts
	mux.Handle(PathDiscovery, s.endpoint(&c.discovery, s.handleDiscovery))
	mux.Handle("/.well-known/oauth-authorization-server", s.endpoint(&c.discovery, s.handleDiscovery))
	mux.Handle(PathJWKS, s.endpoint(&c.jwks, s.handleJWKS))
	mux.Handle(PathAuthorize, s.endpoint(&c.authorize, s.handleAuthorize))
	mux.Handle(PathLogin, s.endpoint(nil, s.handleLogin))
	mux.Handle(PathConsent, s.endpoint(nil, s.handleConsent))
	mux.Handle(PathToken, s.endpoint(&c.token, s.handleToken))
	mux.Handle(PathUserinfo, s.endpoint(&c.userinfo, s.handleUserinfo))
	mux.Handle(PathIntrospect, s.endpoint(&c.introspect, s.handleIntrospect))
	mux.Handle(PathRevoke, s.endpoint(&c.revoke, s.handleRevoke))
	mux.Handle(PathLogout, s.endpoint(&c.logout, s.handleLogout))
	mux.Handle("/", s.endpoint(nil, s.handleIndex))
	return s.logRequests(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.all.Add(1)
		mux.ServeHTTP(w, r)
	}))
}

// Handle serves h at pattern (http.ServeMux syntax) on this server, with the
// same counting, faults and TLS as the provider's own endpoints. It is for
// tests that need an answer the provider never gives — a redirect, bytes
// that are not valid JSON, a member sent twice — from a host the relying
// party already trusts. It may be called while the server runs; it panics
// if pattern is already taken, like http.ServeMux.Handle.
func (s *Server) Handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, s.endpoint(nil, h.ServeHTTP))
}

// endpoint counts the request, then applies the injected faults.
func (s *Server) endpoint(counter *atomic.Int64, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if counter != nil {
			counter.Add(1)
		}
		if !s.faults.apply(w, r, s.closing) {
			return
		}
		h(w, r)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// logRequests logs method, path and status only: query strings carry codes
// and states, and bodies carry secrets.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		start := time.Now()
		next.ServeHTTP(rec, r)
		s.opts.Logger.Debug("demoidp request",
			zap.String("method", r.Method),
			zap.String("path", r.URL.Path),
			zap.Int("status", rec.status),
			zap.Duration("duration", time.Since(start)))
	})
}
