package edgeauth

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/edgeauth/caddy-edgeauth/module/metrics"
)

func init() {
	caddy.RegisterModule(adminAPI{})
}

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
//
// Answers are JSON and never contain a token, a key or a secret.
//
// Caddy builds a new admin endpoint for every config it loads and provisions
// its routers with that config's context, so the router holds the app of
// its own config: no package state is shared between configs.
type adminAPI struct {
	app *App // nil when the config has no edgeauth app
}

// CaddyModule returns the Caddy module information.
func (adminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.edgeauth",
		New: func() caddy.Module { return new(adminAPI) },
	}
}

// Provision takes the edgeauth app of the config being loaded, as Caddy's
// own PKI admin API takes the pki app. Caddy provisions admin routers before
// the apps, so this may provision the app first; an app that fails to load
// fails the config anyway (with the same error, when Caddy loads its apps),
// so the error is not reported twice here.
func (a *adminAPI) Provision(ctx caddy.Context) error {
	if app, err := ctx.AppIfConfigured("edgeauth"); err == nil {
		a.app, _ = app.(*App)
	}
	return nil
}

// Routes returns the admin routes under /edgeauth/.
func (a *adminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{{Pattern: "/edgeauth/", Handler: caddy.AdminHandlerFunc(a.serve)}}
}

// serve routes a request under /edgeauth/.
func (a *adminAPI) serve(w http.ResponseWriter, r *http.Request) error {
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/edgeauth/"), "/"), "/")
	switch {
	case len(parts) == 1 && parts[0] == "providers":
		return adminMethod(w, r, http.MethodGet, a.handleProviders)
	case len(parts) == 3 && parts[0] == "providers" && parts[2] == "refresh" && parts[1] != "":
		return adminMethod(w, r, http.MethodPost, func(w http.ResponseWriter, r *http.Request) error {
			return a.handleRefresh(w, r, parts[1])
		})
	case len(parts) == 1 && parts[0] == "caches":
		return adminMethod(w, r, http.MethodGet, a.handleCaches)
	case len(parts) == 2 && parts[0] == "caches" && parts[1] == "flush":
		return adminMethod(w, r, http.MethodPost, a.handleFlush)
	}
	return caddy.APIError{
		HTTPStatus: http.StatusNotFound,
		Err:        fmt.Errorf("no such edgeauth admin resource: %s (try GET /edgeauth/providers, GET /edgeauth/caches, POST /edgeauth/caches/flush or POST /edgeauth/providers/<name>/refresh)", r.URL.Path),
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

// runningApp returns the config's app or an API error saying there is none.
func (a *adminAPI) runningApp() (*App, error) {
	if a.app == nil {
		return nil, caddy.APIError{
			HTTPStatus: http.StatusNotFound,
			Err:        fmt.Errorf("edgeauth is not running: the loaded config has no edgeauth app (add the edgeauth global option or an edgeauth handler)"),
		}
	}
	return a.app, nil
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

func (api *adminAPI) handleProviders(w http.ResponseWriter, _ *http.Request) error {
	a, err := api.runningApp()
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

func (api *adminAPI) handleRefresh(w http.ResponseWriter, r *http.Request, name string) error {
	a, err := api.runningApp()
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

// adminCacheSizes counts the entries of the app's caches.
func adminCacheSizes(a *App) adminCaches {
	out := adminCaches{STSCaches: map[string]adminCacheSize{}}
	if a.cache != nil {
		out.TokenCache.Entries = a.cache.Len()
	}
	for name, c := range a.adminSTSCaches() {
		out.STSCaches[name] = adminCacheSize{Entries: c.Len()}
	}
	return out
}

func (api *adminAPI) handleCaches(w http.ResponseWriter, _ *http.Request) error {
	a, err := api.runningApp()
	if err != nil {
		return err
	}
	return writeAdminJSON(w, adminCacheSizes(a))
}

func (api *adminAPI) handleFlush(w http.ResponseWriter, _ *http.Request) error {
	a, err := api.runningApp()
	if err != nil {
		return err
	}
	out := adminCacheSizes(a)
	if a.cache != nil {
		a.cache.Flush()
	}
	for _, c := range a.adminSTSCaches() {
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
var (
	_ caddy.AdminRouter = (*adminAPI)(nil)
	_ caddy.Provisioner = (*adminAPI)(nil)
)
