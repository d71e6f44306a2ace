package integration

import (
	"net/http"
	"time"
)

// The login setup, shared by the test files that sign in through the demo
// provider or wait for it: the session secrets, the Caddyfile of a login
// test, and the wait until the provider's metadata and keys are loaded.

// Session secrets (at least 32 bytes each): secretNew is the default of
// loginConfig and of the other tests' session blocks; secretNewer is the
// next one for the rotation tests.
const (
	secretNew   = "new-session-secret-0123456789-abcdefghijklmnop"
	secretNewer = "newer-session-secret-0123456789-abcdefghijklmn"
)

// loginOpts shape the Caddyfile of a login test.
type loginOpts struct {
	providerExtra []string // more lines in the provider block
	session       string   // body of the session block; default `secret secretNew`
	login         string   // body of the login block
	loginArgs     string   // after `login`, e.g. a prefix
	rules         string   // more lines in the edgeauth directive
}

// loginConfig is the Caddyfile of a login test: the demo provider with the
// profile scopes, a session block and a site with `login`.
func (e *env) loginConfig(o loginOpts) string {
	prov := e.providerBlock("demo", append([]string{"scopes openid profile aliuid email"}, o.providerExtra...)...)
	sess := o.session
	if sess == "" {
		sess = "secret " + secretNew
	}
	login := "login"
	if o.loginArgs != "" {
		login += " " + o.loginArgs
	}
	body := "\t\t" + login + " {\n\t\t\t" + o.login + "\n\t\t}\n" + o.rules
	return e.globals(prov+"\n\t\tsession {\n\t\t\t"+sess+"\n\t\t}") + e.site("edgeauth demo", body)
}

// startLogin loads a login config and waits until the provider's metadata
// and keys are loaded (a bearer token passes and a browser navigation is
// sent to the provider).
func (e *env) startLogin(o loginOpts) {
	e.t.Helper()
	e.start(e.loginConfig(o))
	e.waitReady()
}

// waitReady waits until the provider's metadata and keys are loaded: a
// bearer token of alice's passes and a browser navigation is sent to login.
func (e *env) waitReady() {
	e.t.Helper()
	tok := e.aliceToken()
	// 30s: a first discovery or key fetch that fails (a busy CI machine)
	// is retried with backoff (1s, 2s, 4s, 8s …) before it succeeds.
	waitFor(e.t, "the provider's metadata and keys", 30*time.Second, func() bool {
		resp, _ := e.get("/", tok)
		if resp.StatusCode != http.StatusOK {
			return false
		}
		resp, _ = e.get("/", "", "Accept: text/html")
		return resp.StatusCode == http.StatusFound
	})
}
