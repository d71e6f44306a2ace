package edgeauth

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/edgeauth/caddy-edgeauth/module/metrics"
)

func init() {
	caddy.RegisterModule(adminAPI{})
}

// activeApp is the edgeauth app of the running config, for the admin API.
// Reloads start the new app before stopping the old one, so
// unregisterActiveApp clears it only when it still points at the app being
// stopped.
var activeApp atomic.Pointer[App]

// registerActiveApp makes a the app that the admin API shows. Call it from
// App.Start.
func registerActiveApp(a *App) { activeApp.Store(a) }

// unregisterActiveApp forgets a, unless a newer app has replaced it already.
// Call it from App.Stop.
func unregisterActiveApp(a *App) { activeApp.CompareAndSwap(a, nil) }

// adminRefreshTimeout bounds a key refresh requested through the admin API.
const adminRefreshTimeout = 30 * time.Second

// adminAPI is the `admin.api.edgeauth` module: it shows the state of the
// running edgeauth app on Caddy's admin endpoint and lets an operator flush
// its caches and refresh a provider's keys.
//
//	GET  /edgeauth/providers                 each provider's state
//	POST /edgeauth/providers/<name>/refresh  refetch that provider's keys now
//	GET  /edgeauth/caches                    cache sizes
//	POST /edgeauth/caches/flush              empty the caches
//	GET  /edgeauth/assertion                 the assertion keys: IDs and ages
//
// Answers are JSON and never contain a token, a key or a secret.
type adminAPI struct{}

// CaddyModule returns the Caddy module information.
func (adminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.edgeauth",
		New: func() caddy.Module { return new(adminAPI) },
	}
}

// Routes returns the admin routes under /edgeauth/.
func (adminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{{Pattern: "/edgeauth/", Handler: caddy.AdminHandlerFunc(serveAdmin)}}
}

// serveAdmin routes a request under /edgeauth/.
func serveAdmin(w http.ResponseWriter, r *http.Request) error {
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/edgeauth/"), "/"), "/")
	switch {
	case len(parts) == 1 && parts[0] == "providers":
		return adminMethod(w, r, http.MethodGet, adminHandleProviders)
	case len(parts) == 3 && parts[0] == "providers" && parts[2] == "refresh" && parts[1] != "":
		return adminMethod(w, r, http.MethodPost, func(w http.ResponseWriter, r *http.Request) error {
			return adminHandleRefresh(w, r, parts[1])
		})
	case len(parts) == 1 && parts[0] == "caches":
		return adminMethod(w, r, http.MethodGet, adminHandleCaches)
	case len(parts) == 2 && parts[0] == "caches" && parts[1] == "flush":
		return adminMethod(w, r, http.MethodPost, adminHandleFlush)
	case len(parts) == 1 && parts[0] == "assertion":
		return adminMethod(w, r, http.MethodGet, adminHandleAssertion)
	}
	return caddy.APIError{
		HTTPStatus: http.StatusNotFound,
		Err:        fmt.Errorf("no such edgeauth admin resource: %s (try GET /edgeauth/providers, GET /edgeauth/caches, POST /edgeauth/caches/flush, POST /edgeauth/providers/<name>/refresh or GET /edgeauth/assertion)", r.URL.Path),
	}
}

func adminMethod(w http.ResponseWriter, r *http.Request, method string, next func(http.ResponseWriter, *http.Request) error) error {
	if r.Method != method {
		w.Header().Set("Allow", method)
		return caddy.APIError{
			HTTPStatus: http.StatusMethodNotAllowed,
			Err:        fmt.Errorf("method %s not allowed on %s; use %s", r.Method, r.URL.Path, method),
		}
	}
	return next(w, r)
}

// adminRunningApp returns the active app or an API error saying there is none.
func adminRunningApp() (*App, error) {
	a := activeApp.Load()
	if a == nil {
		return nil, caddy.APIError{
			HTTPStatus: http.StatusNotFound,
			Err:        fmt.Errorf("edgeauth is not running: the loaded config has no edgeauth app (add the edgeauth global option or an edgeauth handler)"),
		}
	}
	return a, nil
}

// adminProvider is one provider's state as the admin API shows it.
type adminProvider struct {
	Name           string   `json:"name"`
	Issuer         string   `json:"issuer"`
	MetadataLoaded bool     `json:"metadata_loaded"`
	KeysLoaded     int      `json:"keys_loaded"`
	LastRefresh    string   `json:"last_refresh,omitempty"`
	KeyAgeSeconds  *float64 `json:"key_age_seconds,omitempty"`
	LastError      string   `json:"last_error,omitempty"`
	JWKSFetches    int64    `json:"jwks_fetches"`
}

func adminDescribe(p *provider) adminProvider {
	s := p.remote.Status()
	info := adminProvider{
		Name:           p.name,
		Issuer:         p.remote.Issuer(),
		MetadataLoaded: s.MetadataLoaded,
		KeysLoaded:     s.KeysLoaded,
		LastError:      s.LastError,
		JWKSFetches:    s.JWKSFetches,
	}
	if !s.LastRefresh.IsZero() {
		info.LastRefresh = s.LastRefresh.UTC().Format(time.RFC3339Nano)
		age := s.KeyAge.Seconds()
		info.KeyAgeSeconds = &age
	}
	return info
}

// adminSortedProviders returns the app's run-time providers by name.
func (a *App) adminSortedProviders() []*provider {
	out := make([]*provider, 0, len(a.providers))
	for _, p := range a.providers {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// providerStates lists the providers' state for the metrics package, which
// reads it on every scrape (metrics.Metrics.ObserveProviders).
func (a *App) providerStates() []metrics.ProviderState {
	ps := a.adminSortedProviders()
	out := make([]metrics.ProviderState, len(ps))
	for i, p := range ps {
		out[i] = metrics.ProviderState{Name: p.name, Status: p.remote.Status()}
	}
	return out
}

func adminHandleProviders(w http.ResponseWriter, _ *http.Request) error {
	a, err := adminRunningApp()
	if err != nil {
		return err
	}
	ps := a.adminSortedProviders()
	out := struct {
		Version   string          `json:"version"` // the plugin's, from build info
		Providers []adminProvider `json:"providers"`
	}{Version: ModuleVersion(), Providers: make([]adminProvider, len(ps))}
	for i, p := range ps {
		out.Providers[i] = adminDescribe(p)
	}
	return writeAdminJSON(w, out)
}

func adminHandleRefresh(w http.ResponseWriter, r *http.Request, name string) error {
	a, err := adminRunningApp()
	if err != nil {
		return err
	}
	p, ok := a.providers[name]
	if !ok {
		return caddy.APIError{
			HTTPStatus: http.StatusNotFound,
			Err:        fmt.Errorf("no provider named %q in the running config (GET /edgeauth/providers lists them)", name),
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), adminRefreshTimeout)
	defer cancel()
	if err := p.remote.Refresh(ctx); err != nil {
		return caddy.APIError{
			HTTPStatus: http.StatusBadGateway,
			Err:        fmt.Errorf("provider %s: %v; the previous keys stay in use", name, err),
		}
	}
	caddy.Log().Named("admin.api.edgeauth").Info("provider keys refreshed", zap.String("provider", name))
	return writeAdminJSON(w, adminDescribe(p))
}

// adminCache is a cache the admin API can size and flush (token.Cache and
// sts.Cache are).
type adminCache interface {
	Len() int
	Flush()
}

// stsCacheLister is implemented by the App once STS credential caches
// exist: it returns them by STS name, for GET /edgeauth/caches and the flush.
type stsCacheLister interface {
	adminSTSCaches() map[string]adminCache
}

// adminCacheSize is one cache's size.
type adminCacheSize struct {
	Entries int `json:"entries"`
}

// adminCaches is the answer of GET /edgeauth/caches and of the flush (where
// the counts are the entries that were removed).
type adminCaches struct {
	TokenCache adminCacheSize            `json:"token_cache"`
	STSCaches  map[string]adminCacheSize `json:"sts_caches"`
}

func (a *App) adminSTSCacheList() map[string]adminCache {
	if l, ok := any(a).(stsCacheLister); ok {
		return l.adminSTSCaches()
	}
	return nil
}

// adminCacheSizes counts the entries of the app's caches.
func adminCacheSizes(a *App) adminCaches {
	out := adminCaches{STSCaches: map[string]adminCacheSize{}}
	if a.cache != nil {
		out.TokenCache.Entries = a.cache.Len()
	}
	for name, c := range a.adminSTSCacheList() {
		out.STSCaches[name] = adminCacheSize{Entries: c.Len()}
	}
	return out
}

func adminHandleCaches(w http.ResponseWriter, _ *http.Request) error {
	a, err := adminRunningApp()
	if err != nil {
		return err
	}
	return writeAdminJSON(w, adminCacheSizes(a))
}

func adminHandleFlush(w http.ResponseWriter, _ *http.Request) error {
	a, err := adminRunningApp()
	if err != nil {
		return err
	}
	out := adminCacheSizes(a)
	if a.cache != nil {
		a.cache.Flush()
	}
	for _, c := range a.adminSTSCacheList() {
		c.Flush()
	}
	caddy.Log().Named("admin.api.edgeauth").Info("caches flushed", zap.Int("token_cache_entries", out.TokenCache.Entries))
	return writeAdminJSON(w, struct {
		Flushed adminCaches `json:"flushed"`
	}{out})
}

func writeAdminJSON(w http.ResponseWriter, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusInternalServerError, Err: err}
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(body, '\n'))
	return nil
}

// Interface guards.
var _ caddy.AdminRouter = (*adminAPI)(nil)
