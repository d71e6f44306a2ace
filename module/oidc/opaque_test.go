package oidc

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
)

// A userinfo or introspection answer that names a member twice is refused
// (as an unusable answer), never read as whichever copy encoding/json keeps.
func TestOpaqueAnswerWithDuplicateMembersRefused(t *testing.T) {
	idp := startIdP(t)
	// Bytes the provider would never send, served from its own host.
	var body atomic.Value
	raw := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body.Load().(string)))
	})
	idp.Handle("/raw/userinfo", raw)
	idp.Handle("/raw/introspect", raw)
	p, _ := newTestProvider(t, Config{Issuer: idp.URL(), TLSCA: idp.caPath,
		Overrides: Metadata{UserinfoEndpoint: idp.URL() + "/raw/userinfo", IntrospectionEndpoint: idp.URL() + "/raw/introspect"}})
	p.Start()
	waitFor(t, "metadata", func() bool { _, ok := p.Metadata(); return ok })

	ctx := context.Background()
	for _, c := range []struct {
		body string
		ok   bool
	}{
		{`{"active":true,"sub":"alice","client_id":"gw"}`, true},
		{`{"active":true,"sub":"alice","client_id":"gw","client_id":"other"}`, false},
		{`{"active":true,"sub":"alice","\u0073ub":"root","client_id":"gw"}`, false},
		{`{"active":true,"sub":"alice","nested":{"a":1},"aud":"gw"}`, true},
	} {
		body.Store(c.body)
		for name, ask := range map[string]func() (map[string]any, error){
			"userinfo":      func() (map[string]any, error) { return p.Userinfo(ctx, "tok") },
			"introspection": func() (map[string]any, error) { return p.Introspect(ctx, "tok", "gw", "s") },
		} {
			got, err := ask()
			switch {
			case c.ok && err != nil:
				t.Errorf("%s %s: %v", name, c.body, err)
			case !c.ok && !errors.Is(err, ErrProviderUnavailable):
				t.Errorf("%s %s: %v %v, want ErrProviderUnavailable", name, c.body, got, err)
			}
		}
	}
}
