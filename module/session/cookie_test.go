package session

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func randomValue(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}

// replay builds a request carrying the cookies a response set (dropping
// deleted ones), as a browser would send them next.
func replay(t *testing.T, rec *httptest.ResponseRecorder, carry ...*http.Cookie) *http.Request {
	t.Helper()
	jar := map[string]string{}
	var order []string
	for _, c := range carry {
		jar[c.Name] = c.Value
		order = append(order, c.Name)
	}
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(jar, c.Name)
			continue
		}
		if _, ok := jar[c.Name]; !ok {
			order = append(order, c.Name)
		}
		jar[c.Name] = c.Value
	}
	r := httptest.NewRequest("GET", "https://app.example.com/", nil)
	for _, n := range order {
		if v, ok := jar[n]; ok {
			r.AddCookie(&http.Cookie{Name: n, Value: v})
		}
	}
	return r
}

func TestCookieNamePrefix(t *testing.T) {
	cases := []struct {
		opts CookieOptions
		want string
	}{
		{CookieOptions{Name: "edgeauth", Secure: true, Path: "/"}, "__Host-edgeauth"},
		{CookieOptions{Name: "edgeauth", Secure: true}, "__Host-edgeauth"},
		{CookieOptions{Name: "edgeauth", Secure: false, Path: "/"}, "edgeauth"},
		{CookieOptions{Name: "edgeauth", Secure: true, Domain: "example.com", Path: "/"}, "edgeauth"},
		{CookieOptions{Name: "edgeauth", Secure: true, Path: "/app"}, "edgeauth"},
	}
	for _, c := range cases {
		if got := c.opts.CookieName(); got != c.want {
			t.Errorf("%+v: got %q, want %q", c.opts, got, c.want)
		}
	}
	tlsReq := httptest.NewRequest("GET", "https://x/", nil)
	o := CookieOptions{Name: "edgeauth", SecureFunc: func(r *http.Request) bool { return r.TLS != nil }}
	if got := o.ForRequest(tlsReq).CookieName(); got != "__Host-edgeauth" {
		t.Errorf("SecureFunc over TLS: got %q", got)
	}
	if got := o.ForRequest(httptest.NewRequest("GET", "http://x/", nil)).CookieName(); got != "edgeauth" {
		t.Errorf("SecureFunc over plain http: got %q", got)
	}
}

func TestChunksSizesAndReassembly(t *testing.T) {
	opts := CookieOptions{Name: "edgeauth", Secure: true, Path: "/", SameSite: http.SameSiteLaxMode, MaxAge: 12 * time.Hour}
	for _, size := range []int{10, 3 * 1024, 9 * 1024, 20 * 1024} {
		value := randomValue(size)
		rec := httptest.NewRecorder()
		if err := WriteChunks(rec, httptest.NewRequest("GET", "https://x/", nil), opts, value); err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		headers := rec.Header().Values("Set-Cookie")
		wantMin := (size + chunkTarget - 1) / chunkTarget
		if len(headers) < wantMin || len(headers) > wantMin+1 {
			t.Errorf("%d bytes: %d cookies, want about %d", size, len(headers), wantMin)
		}
		for _, h := range headers {
			if len("Set-Cookie: "+h) >= 4096 || len(h) > chunkTarget {
				t.Errorf("%d bytes: Set-Cookie header of %d bytes exceeds the limit", size, len(h))
			}
			for _, attr := range []string{"HttpOnly", "Secure", "SameSite=Lax", "Path=/", "Max-Age=43200"} {
				if !strings.Contains(h, attr) {
					t.Errorf("%d bytes: cookie lacks %s: %.80s…", size, attr, h)
				}
			}
			if !strings.HasPrefix(h, "__Host-edgeauth") {
				t.Errorf("cookie not named __Host-edgeauth…: %.40s", h)
			}
		}
		got, ok := ReadChunks(replay(t, rec), "__Host-edgeauth")
		if !ok || got != value {
			t.Fatalf("%d bytes: reassembly failed (ok=%v, len %d)", size, ok, len(got))
		}
	}
}

func TestChunksRefuseTooLargeAndBadValues(t *testing.T) {
	opts := CookieOptions{Name: "edgeauth", Path: "/"}
	rec := httptest.NewRecorder()
	if err := WriteChunks(rec, nil, opts, randomValue(MaxChunks*chunkTarget)); err == nil {
		t.Fatal("value larger than MaxChunks cookies accepted")
	}
	if len(rec.Header().Values("Set-Cookie")) != 0 {
		t.Fatal("a refused value still set cookies")
	}
	if err := WriteChunks(httptest.NewRecorder(), nil, opts, "a;b"); err == nil {
		t.Fatal("value with ';' accepted")
	}
	// A reader refuses counts beyond the cap.
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: "edgeauth", Value: "11.abc"})
	if _, ok := ReadChunks(r, "edgeauth"); ok {
		t.Fatal("count above MaxChunks accepted")
	}
}

func TestChunksMissingAndStale(t *testing.T) {
	opts := CookieOptions{Name: "edgeauth", Path: "/"}
	big := randomValue(9 * 1024)
	rec := httptest.NewRecorder()
	if err := WriteChunks(rec, nil, opts, big); err != nil {
		t.Fatal(err)
	}
	cookies := rec.Result().Cookies()
	if len(cookies) != 3 {
		t.Fatalf("9 KiB: %d chunks, want 3", len(cookies))
	}
	// Missing middle chunk → refused.
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(cookies[0])
	r.AddCookie(cookies[2])
	if _, ok := ReadChunks(r, "edgeauth"); ok {
		t.Fatal("reassembled with a missing chunk")
	}
	// Missing last chunk → refused.
	r = httptest.NewRequest("GET", "/", nil)
	r.AddCookie(cookies[0])
	r.AddCookie(cookies[1])
	if _, ok := ReadChunks(r, "edgeauth"); ok {
		t.Fatal("reassembled with the last chunk missing")
	}
	// Out of order in the header is fine: names carry the order.
	r = httptest.NewRequest("GET", "/", nil)
	for _, i := range []int{2, 0, 1} {
		r.AddCookie(cookies[i])
	}
	if got, ok := ReadChunks(r, "edgeauth"); !ok || got != big {
		t.Fatal("chunks in another header order not reassembled")
	}

	// Writing a small value over the 3-chunk one deletes chunks 1 and 2.
	prev := replay(t, rec)
	rec2 := httptest.NewRecorder()
	if err := WriteChunks(rec2, prev, opts, "small"); err != nil {
		t.Fatal(err)
	}
	deleted := map[string]bool{}
	for _, c := range rec2.Result().Cookies() {
		if c.MaxAge < 0 {
			deleted[c.Name] = true
		}
	}
	if !deleted["edgeauth_1"] || !deleted["edgeauth_2"] || deleted["edgeauth"] {
		t.Fatalf("stale chunks not deleted correctly: %v", deleted)
	}
	if got, ok := ReadChunks(replay(t, rec2, prev.Cookies()...), "edgeauth"); !ok || got != "small" {
		t.Fatalf("after shrink: got %q ok=%v", got, ok)
	}

	// ClearChunks deletes everything the request carried.
	rec3 := httptest.NewRecorder()
	ClearChunks(rec3, prev, opts)
	if n := len(rec3.Result().Cookies()); n != 3 {
		t.Fatalf("ClearChunks expired %d cookies, want 3", n)
	}
	for _, c := range rec3.Result().Cookies() {
		if c.MaxAge >= 0 || !c.HttpOnly {
			t.Fatalf("ClearChunks cookie %s not expired/HttpOnly", c.Name)
		}
	}
}

func TestIsChunkOf(t *testing.T) {
	for name, want := range map[string]bool{
		"edgeauth": true, "edgeauth_1": true, "edgeauth_9": true, "edgeauth_12": true,
		"edgeauth_": false, "edgeauth_01": false, "edgeauth_x": false, "edgeauthx": false,
		"edgeauth_login_abc": false, "other": false,
	} {
		if got := IsChunkOf("edgeauth", name); got != want {
			t.Errorf("IsChunkOf(edgeauth, %q) = %v, want %v", name, got, want)
		}
	}
}
