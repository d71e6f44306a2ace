package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
	"github.com/edgeauth/caddy-edgeauth/integration/stsemu"
	"github.com/edgeauth/caddy-edgeauth/internal/redistest"
	"github.com/edgeauth/caddy-edgeauth/module/decision"
)

// decisionLine is one decision log line, as Caddy's JSON log writes it.
type decisionLine struct {
	Level    string `json:"level"`
	Msg      string `json:"msg"`
	Outcome  string `json:"outcome"`
	Reason   string `json:"reason"`
	Provider string `json:"provider"`
	Subject  string `json:"subject"`
	Path     string `json:"path"`
}

// accessLine is one access log line: the request's path and user_id.
type accessLine struct {
	Msg     string `json:"msg"`
	UserID  string `json:"user_id"`
	Request struct {
		URI string `json:"uri"`
	} `json:"request"`
}

// accessLog reads a JSON access log file.
func accessLog(t *testing.T, file string) []accessLine {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []accessLine
	for _, l := range strings.Split(string(raw), "\n") {
		var a accessLine
		if json.Unmarshal([]byte(l), &a) == nil && a.Msg == "handled request" {
			out = append(out, a)
		}
	}
	return out
}

// verifiedReason reports whether a reason is decided after the caller's
// credential verified: the decision log and the access log then name them.
func verifiedReason(r decision.Reason) bool {
	switch r {
	case decision.ReasonAuthorized, decision.ReasonSession, decision.ReasonInsufficientScope, decision.ReasonClaimMismatch,
		decision.ReasonSTSInvalidToken, decision.ReasonSTSForbidden, decision.ReasonSTSMisconfigured, decision.ReasonSTSUnavailable:
		return true
	}
	return false
}

// decisionLog reads a JSON log file and returns its decision lines.
func decisionLog(t *testing.T, file string) []decisionLine {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []decisionLine
	for _, l := range strings.Split(string(raw), "\n") {
		var d decisionLine
		if json.Unmarshal([]byte(l), &d) == nil && d.Msg == "decision" {
			out = append(out, d)
		}
	}
	return out
}

// TestDecisionReasonsRecorded drives one request for every decision reason
// through real Caddy (a login route with a Redis session store, STS routes
// on the emulator, a provider whose keys cannot load) and checks that
// exactly that reason is counted in decisions_total and written to the
// decision log. An anonymous request on a login route is no_credential,
// never refresh_failed. With the default decision_log_level, 403s of a
// verified caller are logged at info and everything else at debug; every
// request whose credential verified, allowed or refused, carries the
// caller's subject and provider in the decision log and user_id in Caddy's
// access log.
func TestDecisionReasonsRecorded(t *testing.T) {
	const ttl = 3 * time.Second
	w := newSTSWorld(t, demoidp.Options{AutoApprove: true, AccessTokenTTL: ttl, IDTokenTTL: ttl})
	redis := redistest.Start(t)
	logFile := writeFile(t, "caddy.log", "")
	accessFile := writeFile(t, "access.log", "")
	w.logOpts = []string{"output file " + logFile, "level DEBUG", "format json"}
	missingRole := strings.Replace(w.readerARN, "app-reader", "no-such-role", 1)
	// A provider whose discovery never answers: its tokens meet 503.
	downIssuer := fmt.Sprintf("https://127.0.0.1:%d/down", freePort(t))
	down := fmt.Sprintf(`		provider down {
			issuer %s
			audiences %s
			tls_ca %s
		}`, downIssuer, demoidp.DefaultClientID, w.caFile)
	w.start(w.globals(w.providerBlock("demo", "scopes openid profile aliuid email")+"\n"+down+"\n"+w.stsBlock()+fmt.Sprintf(`
		session {
			secret %s
			store redis {
				address %s
				key_prefix edgeauth-reasons-test:
			}
		}`, secretNew, redis.Addr())) + fmt.Sprintf(`http://127.0.0.1:%d {
	log {
		output file %[5]s
		format json
	}
	handle /sts/* {
		edgeauth demo {
			sts alibaba
		}
		reverse_proxy %[2]s
	}
	handle /sts-forbidden/* {
		edgeauth demo {
			sts alibaba {
				role_arn %[3]s
			}
		}
		reverse_proxy %[2]s
	}
	handle /sts-misconfigured/* {
		edgeauth demo {
			sts alibaba {
				role_arn %[4]s
			}
		}
		reverse_proxy %[2]s
	}
	handle /down/* {
		edgeauth demo down
		reverse_proxy %[2]s
	}
	handle {
		edgeauth demo {
			login {
				param access_type offline
			}
			public /public/*
			optional /opt/*
			scope /dns/* /acs/alidns
			claim /billing/* type account
		}
		reverse_proxy %[2]s
	}
}
`, w.port, w.upstream, w.adminARN, missingRole, accessFile))
	w.env.waitReady()
	bob, err := w.idp.MintFor("bob", []string{"openid", "aliuid", "profile"})
	if err != nil {
		t.Fatal(err)
	}
	b := w.newCookieClient("alice")

	seen := len(decisionLog(t, logFile))
	expect := func(reason decision.Reason, status int, send func() (*http.Response, []byte)) {
		t.Helper()
		before := w.scrapeMetrics()
		resp, body := send()
		if resp.StatusCode != status {
			t.Errorf("%s: status %d, want %d; %.300s", reason, resp.StatusCode, status, body)
		}
		after := w.scrapeMetrics()
		for r := range decision.Reason(decision.NumReasons) {
			d := sumMetric(after, "caddy_edgeauth_decisions_total", "reason="+r.String()) -
				sumMetric(before, "caddy_edgeauth_decisions_total", "reason="+r.String())
			want := 0.0
			if r == reason {
				want = 1
			}
			if d != want {
				t.Errorf("%s: decisions_total{reason=%s} grew by %v, want %v", reason, r, d, want)
			}
		}
		lines := decisionLog(t, logFile)
		fresh := lines[seen:]
		seen = len(lines)
		if len(fresh) != 1 || fresh[0].Reason != reason.String() || fresh[0].Outcome != reason.Outcome().String() {
			t.Errorf("%s: decision log lines %+v, want one with reason %s", reason, fresh, reason)
			return
		}
		d := fresh[0]
		wantLevel := "debug"
		if status == http.StatusForbidden {
			wantLevel = "info"
		}
		if d.Level != wantLevel {
			t.Errorf("%s: decision logged at %s, want %s", reason, d.Level, wantLevel)
		}
		if verified := verifiedReason(reason); verified != (d.Subject != "") || (verified && d.Provider != "demo") {
			t.Errorf("%s: decision log subject %q provider %q; want the subject exactly when the credential verified (%v), then provider demo", reason, d.Subject, d.Provider, verified)
		}
		// Caddy writes the access log line once the response is sent.
		var uid string
		waitFor(t, "the access log line of "+resp.Request.URL.Path, 5*time.Second, func() bool {
			lines := accessLog(t, accessFile)
			if len(lines) == 0 || lines[len(lines)-1].Request.URI != resp.Request.URL.RequestURI() {
				return false
			}
			uid = lines[len(lines)-1].UserID
			return true
		})
		if verifiedReason(reason) && uid == "" {
			t.Errorf("%s: access log user_id is empty for a caller whose credential verified", reason)
		} else if uid != d.Subject {
			t.Errorf("%s: access log user_id %q, want the decision's subject %q", reason, uid, d.Subject)
		}
	}

	expect(decision.ReasonPublic, http.StatusOK, func() (*http.Response, []byte) { return w.get("/public/x", "") })
	expect(decision.ReasonOptionalAnonymous, http.StatusOK, func() (*http.Response, []byte) { return w.get("/opt/x", "", "Accept: text/html") })
	expect(decision.ReasonAuthorized, http.StatusOK, func() (*http.Response, []byte) { return w.get("/x", w.aliceToken()) })
	expect(decision.ReasonNoCredential, http.StatusUnauthorized, func() (*http.Response, []byte) { return w.get("/x", "") })
	expect(decision.ReasonInvalidToken, http.StatusUnauthorized, func() (*http.Response, []byte) { return w.get("/x", "not-a-token") })
	expect(decision.ReasonInvalidPath, http.StatusBadRequest, func() (*http.Response, []byte) { return w.get("/dns/%2e%2e/x", "") })
	expect(decision.ReasonInsufficientScope, http.StatusForbidden, func() (*http.Response, []byte) { return w.get("/dns/x", bob) })
	expect(decision.ReasonClaimMismatch, http.StatusForbidden, func() (*http.Response, []byte) { return w.get("/billing/x", w.aliceToken()) })
	expect(decision.ReasonKeysUnavailable, http.StatusServiceUnavailable, func() (*http.Response, []byte) {
		return w.get("/down/x", w.aliceToken(demoidp.WithClaims(map[string]any{"iss": downIssuer})))
	})
	expect(decision.ReasonLoginRedirect, http.StatusFound, func() (*http.Response, []byte) { return w.get("/x", "", "Accept: text/html") })

	// STS outcomes, each for a fresh identity so that no cached credential
	// answers.
	fresh := func() string {
		return w.mint(map[string]any{"sub": fmt.Sprintf("reasons-%d", time.Now().UnixNano())})
	}
	expect(decision.ReasonSTSForbidden, http.StatusForbidden, func() (*http.Response, []byte) { return w.get("/sts-forbidden/x", fresh()) })
	expect(decision.ReasonSTSMisconfigured, http.StatusBadGateway, func() (*http.Response, []byte) { return w.get("/sts-misconfigured/x", fresh()) })
	w.emu.SetThrottle(10)
	expect(decision.ReasonSTSUnavailable, http.StatusServiceUnavailable, func() (*http.Response, []byte) { return w.get("/sts/x", fresh()) })
	w.emu.SetThrottle(0)
	if _, err := w.emu.UpdateProvider("demo-idp", stsemu.ProviderUpdate{AddClientIDs: []string{"other-app"}, RemoveClientIDs: []string{demoidp.DefaultClientID}}); err != nil {
		t.Fatal(err)
	}
	expect(decision.ReasonSTSInvalidToken, http.StatusUnauthorized, func() (*http.Response, []byte) { return w.get("/sts/x", fresh()) })

	// Sessions: signed in, expired and not refreshable, store down.
	b.login("/")
	seen = len(decisionLog(t, logFile))
	expect(decision.ReasonSession, http.StatusOK, func() (*http.Response, []byte) { return b.api("/x") })
	status, info := b.userinfo()
	if status != http.StatusOK {
		t.Fatalf("userinfo: %d", status)
	}
	seen = len(decisionLog(t, logFile))
	exp, _ := time.Parse(time.RFC3339, fmt.Sprint(info["expires_at"]))
	time.Sleep(time.Until(exp.Add(1500 * time.Millisecond)))
	w.idp.SetDown(true)
	expect(decision.ReasonRefreshFailed, http.StatusUnauthorized, func() (*http.Response, []byte) { return b.api("/x") })
	w.idp.SetDown(false)
	b2 := w.newCookieClient("alice")
	b2.login("/")
	seen = len(decisionLog(t, logFile))
	redis.Stop()
	// The near-cache may answer from memory until its lease ends (500 ms,
	// within the 1 s revocation bound); then the store is needed.
	waitFor(t, "the near-cache's lease to end after Redis stopped", 5*time.Second, func() bool {
		resp, _ := b2.api("/x")
		return resp.StatusCode == http.StatusServiceUnavailable
	})
	seen = len(decisionLog(t, logFile))
	expect(decision.ReasonStoreUnavailable, http.StatusServiceUnavailable, func() (*http.Response, []byte) { return b2.api("/x") })
}
