package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"time"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
	"github.com/edgeauth/caddy-edgeauth/integration/stsemu"
)

// The identity every scenario uses.
const (
	loadUser    = "alice"
	stsProvider = "demo-idp"
	stsRole     = "edgeauth-load"
)

// loadScopes are the scopes of minted tokens (the demo client's usual ones).
var loadScopes = []string{"openid", "aliuid", "profile", "email"}

// world is the in-process part of the setup: the demo OpenID provider and
// the STS emulator (both only answer during setup and on token or
// credential cache misses, never on the measured path of a warm cache).
type world struct {
	idp    *demoidp.Server
	caFile string
	sts    *stsemu.Server
}

// newWorld starts the demo OpenID provider (TLS on loopback, auto-approving
// logins) and writes its CA into dir.
func newWorld(dir string) (*world, error) {
	idp, err := demoidp.New(demoidp.Options{AutoApprove: true})
	if err != nil {
		return nil, err
	}
	if err := idp.Start(); err != nil {
		return nil, err
	}
	w := &world{idp: idp}
	if w.caFile, err = idp.WriteCAFile(dir); err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

// startSTS starts the STS emulator with the demo provider registered (with
// its CA thumbprint) and a role whose trust policy admits the demo client.
func (w *world) startSTS() error {
	sts := stsemu.New(stsemu.Options{HTTPClient: w.idp.Client()})
	sts.Start()
	p, err := sts.CreateProvider(stsemu.Provider{
		Name:         stsProvider,
		IssuerURL:    w.idp.Issuer(),
		ClientIDs:    []string{demoidp.DefaultClientID},
		Fingerprints: []string{w.idp.CAThumbprint()},
	})
	if err != nil {
		sts.Close()
		return fmt.Errorf("registering the demo provider with the STS emulator: %w", err)
	}
	trust := stsemu.OIDCTrust(p.Arn, w.idp.Issuer(), demoidp.DefaultClientID, "")
	if _, err := sts.CreateRole(stsRole, trust, 0); err != nil {
		sts.Close()
		return fmt.Errorf("creating the STS emulator role: %w", err)
	}
	w.sts = sts
	return nil
}

// mint returns a fresh valid access token for loadUser.
func (w *world) mint() (string, error) { return w.idp.MintFor(loadUser, loadScopes) }

// badSignature returns tok with one signature character changed: same
// header and claims, a signature that does not verify. The changed
// character is not the last one, so the signature stays canonical base64url.
func badSignature(tok string) string {
	b := []byte(tok)
	i := len(b) - 10
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// sessionKey returns a random session secret (32 bytes, base64).
func sessionKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawStdEncoding.EncodeToString(b)
}

// idpClient returns an HTTP client that trusts the demo provider's CA.
func (w *world) idpClient() *http.Client {
	c := w.idp.Client()
	c.Timeout = 15 * time.Second
	return c
}

// close stops what newWorld and startSTS started.
func (w *world) close() {
	if w.sts != nil {
		w.sts.Close()
	}
	_ = w.idp.Close()
}
