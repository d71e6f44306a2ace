package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// clientToken mints a client-credentials style token at the demo provider:
// no `sub`, the client in azp and client_id.
func (e *env) clientToken(client string) string {
	e.t.Helper()
	return e.mint(map[string]any{"azp": client, "client_id": client, "scope": "openid"},
		demoidp.WithClaims(map[string]any{"sub": nil}))
}

// TestFinding2STSCallersWithoutSubjectRefused: two callers whose tokens have
// no `sub` (client credentials) are refused with 401 invalid_token before
// any exchange, through real Caddy and the Alibaba STS emulator; and a token
// of the same user for another client of the provider does not get the
// credentials cached for the first client (the emulator, which does not
// trust that client, is asked and refuses).
func TestFinding2STSCallersWithoutSubjectRefused(t *testing.T) {
	w := newSTSWorld(t, demoidp.Options{})
	w.start(w.globals(w.providerBlock("demo", "audiences "+demoidp.DefaultClientID+" other-app")+"\n"+w.stsBlock()) +
		w.site("edgeauth demo", "\t\tsts alibaba"))
	w.waitReady()

	for _, client := range []string{"service-a", "service-b"} {
		resp, body := w.get("/", w.clientToken(client))
		assertError(t, resp, body, http.StatusUnauthorized, "invalid_token")
		assertSTSBody(t, body, "edgeauth.NoSubject")
		if !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("challenge %q", resp.Header.Get("WWW-Authenticate"))
		}
	}
	if n := len(w.issued()); n != 0 {
		t.Fatalf("%d exchanges for tokens without sub, want 0", n)
	}

	alice := w.upstreamSaw(w.get("/", w.aliceToken()))
	other := w.aliceToken(demoidp.WithClaims(map[string]any{"aud": "other-app", "azp": "other-app"}))
	resp, body := w.get("/", other)
	if resp.StatusCode == http.StatusOK {
		t.Fatalf("alice's token for another client got 200 with access key %q (the first client's: %q)",
			w.upstreamSaw(resp, body).header("X-Sts-Access-Key-Id"), alice.header("X-Sts-Access-Key-Id"))
	}
	assertError(t, resp, body, http.StatusUnauthorized, "invalid_token")
	assertSTSBody(t, body, "AuthenticationFail.OIDCToken.AudienceNotMatch")
}

// TestFinding2STSTokenExchangeNoCrossDelivery: against an RFC 8693 endpoint
// that exchanges any token (including client-credentials ones), two callers
// without `sub` never receive each other's issued token: they are refused
// before the exchange. Two users of one route each get their own.
func TestFinding2STSTokenExchangeNoCrossDelivery(t *testing.T) {
	e := newEnv(t, demoidp.Options{})
	var n atomic.Int32
	te := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		rw.Header().Set("Content-Type", "application/json")
		// The issued token names the exchange and the caller it was for.
		_ = json.NewEncoder(rw).Encode(map[string]any{
			"access_token":      fmt.Sprintf("issued-%d-for-%s", n.Add(1), url.QueryEscape(r.PostForm.Get("subject_token"))[:40]),
			"issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
			"token_type":        "Bearer",
			"expires_in":        3600,
		})
	}))
	defer te.Close()
	e.start(e.globals(e.providerBlock("demo")+fmt.Sprintf(`
		sts exchange {
			type token_exchange
			token_endpoint %s/token
			client_id gw
			client_secret gw-secret
		}`, te.URL)) + e.site("edgeauth demo", "\t\tsts exchange {\n\t\t\theader security_token X-Exchanged-Token\n\t\t}"))
	alice := e.aliceToken()
	waitFor(t, "keys", 10*time.Second, func() bool {
		resp, _ := e.get("/", alice)
		return resp.StatusCode != http.StatusServiceUnavailable
	})
	before := n.Load()

	var issued []string
	for _, client := range []string{"service-a", "service-b"} {
		resp, body := e.get("/", e.clientToken(client))
		if resp.StatusCode == http.StatusOK {
			issued = append(issued, e.upstreamSaw(resp, body).header("X-Exchanged-Token"))
			continue
		}
		assertError(t, resp, body, http.StatusUnauthorized, "invalid_token")
		assertSTSBody(t, body, "edgeauth.NoSubject")
	}
	if len(issued) == 2 && issued[0] == issued[1] {
		t.Errorf("service-b received the token exchanged for service-a: %q", issued[1])
	}
	if len(issued) > 0 {
		t.Errorf("tokens without sub were exchanged: %q", issued)
	}
	if got := n.Load() - before; got != 0 {
		t.Fatalf("%d exchanges for tokens without sub, want 0", got)
	}

	a := e.upstreamSaw(e.get("/", alice)).header("X-Exchanged-Token")
	bob, err := e.idp.MintFor("bob", []string{"openid"})
	if err != nil {
		t.Fatal(err)
	}
	b := e.upstreamSaw(e.get("/", bob)).header("X-Exchanged-Token")
	if a == "" || a == b {
		t.Fatalf("alice's and bob's exchanged tokens: %q, %q", a, b)
	}
}
