package demoidp

import (
	"encoding/json"
	"net/http"
	"testing"
)

// With UserinfoStatesClient the userinfo answer names the client the token
// was issued to (aud and azp); without it, it names none.
func TestUserinfoStatesClient(t *testing.T) {
	for _, states := range []bool{false, true} {
		s := startIDP(t, Options{AutoApprove: true, OpaqueAccessTokens: true, UserinfoStatesClient: states})
		at, _ := offlineTokens(t, s, "alice")["access_token"].(string)
		req, _ := http.NewRequest(http.MethodGet, s.URL()+PathUserinfo, nil)
		req.Header.Set("Authorization", "Bearer "+at)
		resp, err := s.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var info map[string]any
		err = json.NewDecoder(resp.Body).Decode(&info)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("userinfo: %d %v", resp.StatusCode, err)
		}
		for _, k := range []string{"aud", "azp"} {
			got, has := info[k]
			if has != states || (states && got != DefaultClientID) {
				t.Errorf("UserinfoStatesClient=%v: %s = %v (present %v)", states, k, got, has)
			}
		}
	}
}
