package login

import (
	"context"
	"net/http"
	"testing"

	"go.uber.org/zap"

	"github.com/edgeauth/caddy-edgeauth/module/identity"
	"github.com/edgeauth/caddy-edgeauth/module/oidc"
)

// userinfoProvider answers fixed userinfo claims.
type userinfoProvider struct{ info map[string]any }

func (userinfoProvider) Name() string                     { return "corp" }
func (userinfoProvider) Metadata() (*oidc.Metadata, bool) { return nil, false }
func (userinfoProvider) HTTPClient() *http.Client         { return http.DefaultClient }
func (u userinfoProvider) Userinfo(context.Context, string) (map[string]any, error) {
	return u.info, nil
}

// TestRedTeam4UserinfoCannotAddClientID: since issue 14 the signed
// assertion names the caller's OAuth client (`client_id`, else `azp`) — the
// name backends use for machine callers. A login merges the userinfo answer
// into the session's claims, except protocol claims (azp, sub, …), which
// only the verified ID token may state; client_id was not among them, so a
// userinfo answer (profile data, in some providers partly user-editable)
// could set the client the assertion names for a browser user.
func TestRedTeam4UserinfoCannotAddClientID(t *testing.T) {
	f := &Flow{cfg: FlowConfig{Provider: userinfoProvider{info: map[string]any{
		"sub": "alice", "email": "alice@example.com", "client_id": "billing-batch",
	}}}, log: zap.NewNop()}
	id := &identity.Identity{Subject: "alice", Claims: map[string]any{"sub": "alice", "azp": "gateway"}}
	merged := f.withUserinfo(context.Background(), id, "access-token")
	if merged["email"] != "alice@example.com" {
		t.Fatalf("userinfo not merged: %v", merged)
	}
	if v, ok := merged["client_id"]; ok {
		t.Errorf("userinfo added client_id %v to the session's claims (the assertion would name that client)", v)
	}
}
