package identity

import (
	"net/http"
	"net/textproto"
	"reflect"
	"strings"
	"testing"
)

// dropConnectionListed removes the headers that the Connection field names,
// as a proxy does before forwarding (RFC 9110 §7.6.1; Caddy's reverse_proxy
// splits at commas and trims ASCII white space the same way).
func dropConnectionListed(h http.Header) {
	for _, f := range h["Connection"] {
		for _, tok := range strings.Split(f, ",") {
			if tok = textproto.TrimString(tok); tok != "" {
				h.Del(tok)
			}
		}
	}
}

// TestFinding4ConnectionTokensNamingIdentityHeadersAreRemoved: a caller
// cannot name an identity header in Connection (or Proxy-Connection) to make
// the proxy drop what the plugin injected; other tokens survive in order.
func TestFinding4ConnectionTokensNamingIdentityHeadersAreRemoved(t *testing.T) {
	h := mustHeaders(t, []HeaderSpec{{Name: "X-Login", Value: "{http.auth.user.login_name}"}}, nil)
	if err := h.AddStripName("X-Cloud-Key"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   map[string][]string
		want map[string][]string // Connection-like fields after Strip; absent = deleted
	}{
		{"two identity names",
			map[string][]string{"Connection": {"X-Auth-Subject, X-Sts-Access-Key-Id"}}, nil},
		{"kept tokens stay in order",
			map[string][]string{"Connection": {"keep-alive, X-Auth-Subject, Upgrade"}},
			map[string][]string{"Connection": {"keep-alive, Upgrade"}}},
		{"several lines",
			map[string][]string{"Connection": {"keep-alive", "x-auth-subject", "X_STS_ACCESS_KEY_ID, close"}},
			map[string][]string{"Connection": {"keep-alive", "close"}}},
		{"spaces, tabs, empty elements",
			map[string][]string{"Connection": {" ,\tX-Auth-Subject\t, ,close ,  X-Auth-Upn  "}},
			map[string][]string{"Connection": {"close"}}},
		{"case, underscore and dot variants",
			map[string][]string{"Connection": {"X-AUTH-SUBJECT,x_auth_upn,X.Auth.Email,x-sTs-Anything,X_Login,x-cloud-key"}}, nil},
		{"prefix matches, look-alikes do not",
			map[string][]string{"Connection": {"X-Auth-New-Thing, X-Authx, X-Authorization-Hint"}},
			map[string][]string{"Connection": {"X-Authx, X-Authorization-Hint"}}},
		{"Proxy-Connection too",
			map[string][]string{"Proxy-Connection": {"keep-alive, X-Auth-Subject"}},
			map[string][]string{"Proxy-Connection": {"keep-alive"}}},
		{"non-canonical key",
			map[string][]string{"connection": {"X-Auth-Subject"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := http.Header{}
			for k, v := range tt.in {
				hdr[k] = append([]string(nil), v...)
			}
			h.Strip(hdr)
			got := map[string][]string{}
			for k, v := range hdr {
				got[k] = v
			}
			if len(got) == 0 {
				got = nil
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("after Strip: %q, want %q", got, tt.want)
			}
		})
	}

	// End to end within the package: strip, inject, then drop what Connection
	// names, as the proxy does. The injected values must survive.
	id := testIdentity(t)
	hdr := http.Header{"Connection": {"X-Auth-Subject, X-Sts-Access-Key-Id", "x-auth-upn"}}
	h.Strip(hdr)
	h.Inject(hdr, id, nil)
	hdr.Set("X-Sts-Access-Key-Id", "STS.key")
	dropConnectionListed(hdr)
	if hdr.Get("X-Auth-Subject") != "1234" || hdr.Get("X-Auth-Upn") != "alice@corp.onaliyun.com" || hdr.Get("X-Sts-Access-Key-Id") != "STS.key" {
		t.Errorf("injected headers were dropped through Connection: %v", hdr)
	}
}

// TestStripConnectionDoesNotAllocate: a Connection field that names no
// identity header is left alone, without allocating.
func TestStripConnectionDoesNotAllocate(t *testing.T) {
	h := mustHeaders(t, nil, nil)
	hdr := http.Header{"Connection": {"keep-alive, Upgrade"}, "Proxy-Connection": {"keep-alive"}, "Upgrade": {"websocket"}}
	allocs := testing.AllocsPerRun(100, func() { h.Strip(hdr) })
	if allocs != 0 {
		t.Errorf("Strip allocated %v times for a harmless Connection field", allocs)
	}
	if hdr.Get("Connection") != "keep-alive, Upgrade" || hdr.Get("Proxy-Connection") != "keep-alive" {
		t.Errorf("harmless Connection fields changed: %v", hdr)
	}
}

// TestKeepConnectionOptions: only close, keep-alive, upgrade and te stay;
// the caller's own headers named there are deleted at once, as the hop they
// were addressed to would; Connection fields never delete each other.
func TestKeepConnectionOptions(t *testing.T) {
	hdr := http.Header{
		"Connection":       {"Keep-Alive, X-User-Id", " upgrade ,\tx_user", "close, Proxy-Connection"},
		"Proxy-Connection": {"X-User-Upn"},
		"X-User-Id":        {"1"},
		"X-Other":          {"kept"},
	}
	KeepConnectionOptions(hdr)
	want := http.Header{"Connection": {"Keep-Alive", "upgrade", "close"}, "X-Other": {"kept"}}
	if !reflect.DeepEqual(hdr, want) {
		t.Errorf("after KeepConnectionOptions: %v, want %v", hdr, want)
	}
	clean := http.Header{"Connection": {"keep-alive, TE"}}
	if allocs := testing.AllocsPerRun(100, func() { KeepConnectionOptions(clean) }); allocs != 0 || clean.Get("Connection") != "keep-alive, TE" {
		t.Errorf("options only: %v allocations, field %q", allocs, clean.Get("Connection"))
	}
}
