package stsemu

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func adminDo(t *testing.T, s *Server, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, s.URL()+path, rd)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, resp)
}

func TestAdminCreateValidation(t *testing.T) {
	s := New(Options{})
	s.Start()
	defer s.Close()
	fp := strings.Repeat("a1", 20)
	base := func() map[string]any {
		return map[string]any{"OIDCProviderName": "corp-idp", "IssuerUrl": "https://idp.example.com",
			"ClientIds": "client-a,client-b", "Fingerprints": []string{fp}}
	}
	many := func(n int, f func(int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	cases := []struct {
		name string
		mod  func(map[string]any)
		code string
	}{
		{"name missing", func(m map[string]any) { delete(m, "OIDCProviderName") }, "MissingParameter.OIDCProviderName"},
		{"name starts with dash", func(m map[string]any) { m["OIDCProviderName"] = "-idp" }, "InvalidParameter.OIDCProviderName"},
		{"name ends with dot", func(m map[string]any) { m["OIDCProviderName"] = "idp." }, "InvalidParameter.OIDCProviderName"},
		{"name too long", func(m map[string]any) { m["OIDCProviderName"] = strings.Repeat("a", 129) }, "InvalidParameter.OIDCProviderName"},
		{"issuer missing", func(m map[string]any) { delete(m, "IssuerUrl") }, "MissingParameter.IssuerUrl"},
		{"issuer http", func(m map[string]any) { m["IssuerUrl"] = "http://idp.example.com" }, "InvalidParameter.IssuerUrl"},
		{"issuer query", func(m map[string]any) { m["IssuerUrl"] = "https://idp.example.com/?a=b" }, "InvalidParameter.IssuerUrl"},
		{"issuer fragment", func(m map[string]any) { m["IssuerUrl"] = "https://idp.example.com/#x" }, "InvalidParameter.IssuerUrl"},
		{"issuer user info", func(m map[string]any) { m["IssuerUrl"] = "https://u:p@idp.example.com" }, "InvalidParameter.IssuerUrl"},
		{"issuer too long", func(m map[string]any) { m["IssuerUrl"] = "https://idp.example.com/" + strings.Repeat("p", 240) }, "InvalidParameter.IssuerUrl"},
		{"no client ids", func(m map[string]any) { m["ClientIds"] = "" }, "MissingParameter.ClientIds"},
		{"51 client ids", func(m map[string]any) {
			m["ClientIds"] = many(51, func(i int) string { return "c" + strings.Repeat("x", i) })
		}, "LimitExceeded.ClientIds"},
		{"client id special start", func(m map[string]any) { m["ClientIds"] = []string{"_abc"} }, "InvalidParameter.ClientIds"},
		{"client id bad char", func(m map[string]any) { m["ClientIds"] = []string{"ab c"} }, "InvalidParameter.ClientIds"},
		{"client id too long", func(m map[string]any) { m["ClientIds"] = []string{strings.Repeat("a", 129)} }, "InvalidParameter.ClientIds"},
		{"duplicate client id", func(m map[string]any) { m["ClientIds"] = "a,a" }, "InvalidParameter.ClientIds"},
		{"no fingerprints", func(m map[string]any) { m["Fingerprints"] = []string{} }, "MissingParameter.Fingerprints"},
		{"6 fingerprints", func(m map[string]any) {
			m["Fingerprints"] = many(6, func(i int) string { return fp[:38] + "0" + string(rune('0'+i)) })
		}, "LimitExceeded.Fingerprints"},
		{"fingerprint with colons", func(m map[string]any) { m["Fingerprints"] = []string{"AB:CD"} }, "InvalidParameter.Fingerprints"},
		{"fingerprint too long", func(m map[string]any) { m["Fingerprints"] = []string{strings.Repeat("a", 129)} }, "InvalidParameter.Fingerprints"},
		{"issuance 169h", func(m map[string]any) { m["IssuanceLimitTime"] = 169 }, "InvalidParameter.IssuanceLimitTime"},
		{"issuance negative", func(m map[string]any) { m["IssuanceLimitTime"] = -1 }, "InvalidParameter.IssuanceLimitTime"},
		{"unknown field", func(m map[string]any) { m["Bogus"] = 1 }, "InvalidParameter.Body"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := base()
			c.mod(m)
			status, body := adminDo(t, s, http.MethodPost, "/admin/oidc-providers", m)
			if status != http.StatusBadRequest || body["Code"] != c.code {
				t.Fatalf("got %d %v (%v), want 400 %s", status, body["Code"], body["Message"], c.code)
			}
		})
	}
	if n := len(s.ListProviders()); n != 0 {
		t.Fatalf("%d providers created by invalid requests", n)
	}

	// Limits are inclusive: 50 client IDs, 5 fingerprints, 168 h, upper-case
	// fingerprints (stored lower-case).
	m := base()
	m["ClientIds"] = many(50, func(i int) string { return "c" + strings.Repeat("x", i) })
	m["Fingerprints"] = many(5, func(i int) string { return strings.ToUpper(fp[:39]) + string(rune('0'+i)) })
	m["IssuanceLimitTime"] = 168
	status, body := adminDo(t, s, http.MethodPost, "/admin/oidc-providers", m)
	if status != http.StatusCreated {
		t.Fatalf("create at the limits: %d %v", status, body)
	}
	p := body["OIDCProvider"].(map[string]any)
	if p["Arn"] != "acs:ram::1000000000000000:oidc-provider/corp-idp" || p["IssuanceLimitTime"] != float64(168) {
		t.Errorf("created provider = %v", p)
	}
	if fps := p["Fingerprints"].([]any); fps[0] != strings.ToLower(fp[:39])+"0" {
		t.Errorf("fingerprint not normalised: %v", fps[0])
	}
	if status, body := adminDo(t, s, http.MethodPost, "/admin/oidc-providers", m); status != http.StatusConflict || body["Code"] != "EntityAlreadyExists.OIDCProvider" {
		t.Errorf("duplicate: %d %v", status, body["Code"])
	}
	m2 := base()
	m2["OIDCProviderName"] = "other"
	if status, body := adminDo(t, s, http.MethodPost, "/admin/oidc-providers", m2); status != http.StatusConflict || body["Code"] != "EntityAlreadyExists.OIDCProvider.IssuerUrl" {
		t.Errorf("same issuer: %d %v", status, body["Code"])
	}
}

func TestAdminLifecycle(t *testing.T) {
	s := New(Options{})
	s.Start()
	defer s.Close()
	fp1, fp2 := strings.Repeat("1", 40), strings.Repeat("2", 40)
	status, body := adminDo(t, s, http.MethodPost, "/admin/oidc-providers", map[string]any{
		"OIDCProviderName": "idp", "IssuerUrl": "https://idp.example.com", "ClientIds": []string{"a"}, "Fingerprints": fp1})
	if status != http.StatusCreated {
		t.Fatalf("create: %d %v", status, body)
	}
	if p := body["OIDCProvider"].(map[string]any); p["IssuanceLimitTime"] != float64(12) {
		t.Errorf("default IssuanceLimitTime = %v, want 12", p["IssuanceLimitTime"])
	}
	if status, body := adminDo(t, s, http.MethodGet, "/admin/oidc-providers/missing", nil); status != 404 || body["Code"] != "EntityNotExist.OIDCProvider" {
		t.Errorf("get missing: %d %v", status, body["Code"])
	}
	if status, body := adminDo(t, s, http.MethodPatch, "/admin/oidc-providers/idp", map[string]any{"RemoveClientIds": []string{"a"}}); status != 400 || body["Code"] != "InvalidParameter.ClientIds.LastOne" {
		t.Errorf("remove last client ID: %d %v", status, body["Code"])
	}
	if status, body := adminDo(t, s, http.MethodPatch, "/admin/oidc-providers/idp", map[string]any{"RemoveFingerprints": []string{fp1}}); status != 400 || body["Code"] != "InvalidParameter.Fingerprints.LastOne" {
		t.Errorf("remove last fingerprint: %d %v", status, body["Code"])
	}
	status, body = adminDo(t, s, http.MethodPatch, "/admin/oidc-providers/idp", map[string]any{
		"AddClientIds": "b,c", "RemoveClientIds": []string{"a"}, "AddFingerprints": []string{fp2}, "RemoveFingerprints": []string{fp1},
		"IssuanceLimitTime": 24})
	if status != 200 {
		t.Fatalf("patch: %d %v", status, body)
	}
	got, err := s.GetProvider("idp")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got.ClientIDs, ",") != "b,c" || strings.Join(got.Fingerprints, ",") != fp2 || got.IssuanceLimitTime != 24 {
		t.Errorf("after patch: %+v", got)
	}
	if status, body := adminDo(t, s, http.MethodPatch, "/admin/oidc-providers/idp", map[string]any{"IssuanceLimitTime": 200}); status != 400 || body["Code"] != "InvalidParameter.IssuanceLimitTime" {
		t.Errorf("patch bad window: %d %v", status, body["Code"])
	}
	if status, body := adminDo(t, s, http.MethodPatch, "/admin/oidc-providers/idp", map[string]any{"RemoveClientIds": []string{"zzz"}}); status != 404 || body["Code"] != "EntityNotExist.OIDCProvider.ClientId" {
		t.Errorf("remove unknown client: %d %v", status, body["Code"])
	}
	if got2, _ := s.GetProvider("idp"); got2.IssuanceLimitTime != 24 || len(got2.ClientIDs) != 2 {
		t.Errorf("a refused patch changed the provider: %+v", got2)
	}
	status, body = adminDo(t, s, http.MethodGet, "/admin/oidc-providers", nil)
	if list := body["OIDCProviders"].([]any); status != 200 || len(list) != 1 {
		t.Errorf("list: %d %v", status, body)
	}
	if status, _ := adminDo(t, s, http.MethodDelete, "/admin/oidc-providers/idp", nil); status != 200 {
		t.Errorf("delete: %d", status)
	}
	if status, body := adminDo(t, s, http.MethodDelete, "/admin/oidc-providers/idp", nil); status != 404 || body["Code"] != "EntityNotExist.OIDCProvider" {
		t.Errorf("delete again: %d %v", status, body["Code"])
	}
	if err := s.DeleteProvider("idp"); err == nil {
		t.Error("Go DeleteProvider of a missing provider succeeded")
	}
}

func TestCreateRoleValidation(t *testing.T) {
	s := New(Options{})
	tp := OIDCTrust(s.ProviderARN("p"), "", "", "")
	for _, c := range []struct {
		name string
		max  int
		code string
	}{
		{"bad name!", 0, "InvalidParameter.RoleName"},
		{"r1", 3599, "InvalidParameter.MaxSessionDuration"},
		{"r2", 43201, "InvalidParameter.MaxSessionDuration"},
	} {
		_, err := s.CreateRole(c.name, tp, secs(c.max))
		if ae, ok := err.(*APIError); !ok || ae.Code != c.code {
			t.Errorf("CreateRole(%q, %d) = %v, want %s", c.name, c.max, err, c.code)
		}
	}
	if _, err := s.CreateRole("ok", tp, secs(43200)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateRole("ok", tp, 0); err == nil || err.(*APIError).Code != "EntityAlreadyExists.Role" {
		t.Errorf("duplicate role: %v", err)
	}
}
