package integration

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// TestRedTeam4TokenExchangeSecretInErrorBody: an RFC 8693 STS that quotes
// the client credentials it refused in its `error` member (as the
// client-credentials test of the logsafe commit assumes a server may) made
// the gateway hand its own client secret to the caller: denySTS puts the
// STS error code into the JSON body (`code`), and TokenExchange copied
// `error` unfiltered (and redacted only the subject token, not the client
// secret, from error_description, which is logged).
func TestRedTeam4TokenExchangeSecretInErrorBody(t *testing.T) {
	const secret = "gw-exchange-secret-51d0"
	e := newEnv(t, demoidp.Options{})
	te := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		id, got, _ := r.BasicAuth()
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(rw, `{"error":"invalid_target for client %s:%s","error_description":"client %s with secret %s may not ask for this audience"}`, id, got, id, got)
	}))
	defer te.Close()
	e.start(e.globals(e.providerBlock("demo")+fmt.Sprintf(`
		sts exchange {
			type token_exchange
			token_endpoint %s/token
			client_id gw
			client_secret %s
			audience https://api.example.com
		}`, te.URL, secret)) + fmt.Sprintf(`http://127.0.0.1:%d {
	route /exchange/* {
		edgeauth demo {
			sts exchange
		}
		reverse_proxy %s
	}
}
`, e.port, e.upstream))
	alice := e.aliceToken()
	var resp *http.Response
	var body []byte
	waitFor(t, "keys", 10*time.Second, func() bool {
		resp, body = e.get("/exchange/x", alice)
		return resp.StatusCode != http.StatusServiceUnavailable
	})
	if resp.StatusCode < 400 {
		t.Fatalf("refused exchange answered %d", resp.StatusCode)
	}
	if strings.Contains(string(body), secret) {
		t.Errorf("the caller's error body holds the gateway's STS client secret (%d): %s", resp.StatusCode, body)
	}
	for k, v := range resp.Header {
		if strings.Contains(strings.Join(v, " "), secret) {
			t.Errorf("response header %s holds the client secret", k)
		}
	}
}
