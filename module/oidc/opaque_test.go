package oidc

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

// A userinfo or introspection answer that names a member twice is refused
// (as an unusable answer), never read as whichever copy encoding/json keeps.
func TestOpaqueAnswerWithDuplicateMembersRefused(t *testing.T) {
	ca := newTestCA(t)
	idp := startFakeIdP(t, ca)
	idp.setKeys(rsaJWK("k1", &testRSA(t).PublicKey))
	var body string
	answers := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}))
	answers.TLS = &tls.Config{Certificates: []tls.Certificate{ca.tlsCert}}
	answers.StartTLS()
	t.Cleanup(answers.Close)
	p, _ := newTestProvider(t, Config{Issuer: idp.url, TLSCA: ca.pemPath,
		Overrides: Metadata{UserinfoEndpoint: answers.URL + "/userinfo", IntrospectionEndpoint: answers.URL + "/introspect"}})
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
		body = c.body
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
