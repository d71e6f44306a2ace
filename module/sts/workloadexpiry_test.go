package sts

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestTableWorkloadTokenFileExpiry: the workload token file is the
// gateway's own credential; the gateway cannot verify it (the STS does),
// but a token whose exp has passed is stale (whatever rotates the file is
// stuck) and is not sent: the exchange fails as unavailable instead of the
// STS's refusal reaching the caller as if their own token were invalid. A
// token without exp, or one that is not a JWT, is left to the STS.
func TestTableWorkloadTokenFileExpiry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	src := NewFileTokenSource(path)
	write := func(claims jwt.MapClaims) string {
		tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte("k"))
		if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return tok
	}
	write(jwt.MapClaims{"exp": time.Now().Add(-time.Minute).Unix()})
	if got, _, err := src.Token(context.Background()); err == nil || got != "" || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired token file: %q, %v; want an error saying it expired", got, err)
	}
	want := write(jwt.MapClaims{"sub": "gw"})
	if got, exp, err := src.Token(context.Background()); err != nil || got != want || !exp.IsZero() {
		t.Fatalf("token without exp: %q %v %v", got, exp, err)
	}
	if err := os.WriteFile(path, []byte("opaque-workload-token"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, _, err := src.Token(context.Background()); err != nil || got != "opaque-workload-token" {
		t.Fatalf("opaque token: %q %v", got, err)
	}
}
