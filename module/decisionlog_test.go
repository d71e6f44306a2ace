package edgeauth

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/edgeauth/caddy-edgeauth/module/decision"
)

func TestDecisionLogLevels(t *testing.T) {
	for in, want := range map[string]zapcore.Level{"": zapcore.DebugLevel, "debug": zapcore.DebugLevel, "INFO": zapcore.InfoLevel, "warn": zapcore.WarnLevel, "error": zapcore.ErrorLevel} {
		got, err := parseDecisionLogLevel(in)
		if err != nil || got != want {
			t.Errorf("parseDecisionLogLevel(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := parseDecisionLogLevel("loud"); err == nil || !strings.Contains(err.Error(), "decision_log_level") {
		t.Errorf("a bad level gives %v, want an error naming the option", err)
	}
}

// TestDecisionLogNeverHoldsSecrets logs a denial of a request full of
// secrets and checks that the line has the codes and none of the secrets.
func TestDecisionLogNeverHoldsSecrets(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	logger := zap.New(core)
	const secretToken = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"
	r := httptest.NewRequest("GET", "http://gw.example.com/orders/42?access_token=QUERYSECRET&x=1", nil)
	r.Header.Set("Authorization", "Bearer "+secretToken)
	r.Header.Set("Cookie", "edgeauth=COOKIESECRET")
	r = r.WithContext(context.WithValue(r.Context(), caddyhttp.VarsCtxKey, map[string]any{caddyhttp.ClientIPVarKey: "192.0.2.7"}))

	logDecision(logger, zapcore.DebugLevel, r, decision.ReasonInvalidToken, "demo", "expired") // below the level
	if logs.Len() != 0 {
		t.Fatalf("a debug line was written at level info: %v", logs.All())
	}
	logDecision(logger, zapcore.WarnLevel, r, decision.ReasonInvalidToken, "demo", "expired")
	if logs.Len() != 1 {
		t.Fatalf("%d lines, want 1", logs.Len())
	}
	entry := logs.All()[0]
	if entry.Level != zapcore.WarnLevel || entry.Message != "decision" {
		t.Errorf("entry %v %q", entry.Level, entry.Message)
	}
	fields := entry.ContextMap()
	want := map[string]string{"outcome": "deny", "reason": "invalid_token", "detail": "expired", "provider": "demo",
		"method": "GET", "host": "gw.example.com", "path": "/orders/42", "client_ip": "192.0.2.7"}
	for k, v := range want {
		if fields[k] != v {
			t.Errorf("field %s = %v, want %q", k, fields[k], v)
		}
	}
	for k, v := range fields {
		s, _ := v.(string)
		for _, secret := range []string{secretToken, "QUERYSECRET", "COOKIESECRET", "access_token", "Bearer"} {
			if strings.Contains(s, secret) || strings.Contains(k, secret) {
				t.Errorf("field %s = %q holds a secret (%s)", k, s, secret)
			}
		}
	}
	logDecision(nil, zapcore.ErrorLevel, r, decision.ReasonPublic, "", "") // no logger: no panic
}

// TestDecisionLevel: a verified caller's 403 is at info by default (or the
// operator's level when higher); 401s and other refusals stay at the
// operator's level (debug by default); allowed requests at debug.
func TestDecisionLevel(t *testing.T) {
	for _, tc := range []struct {
		reason     decision.Reason
		configured zapcore.Level
		want       zapcore.Level
	}{
		{decision.ReasonInsufficientScope, zapcore.DebugLevel, zapcore.InfoLevel},
		{decision.ReasonClaimMismatch, zapcore.DebugLevel, zapcore.InfoLevel},
		{decision.ReasonSTSForbidden, zapcore.DebugLevel, zapcore.InfoLevel},
		{decision.ReasonClaimMismatch, zapcore.WarnLevel, zapcore.WarnLevel},
		{decision.ReasonNoCredential, zapcore.DebugLevel, zapcore.DebugLevel},
		{decision.ReasonInvalidToken, zapcore.DebugLevel, zapcore.DebugLevel},
		{decision.ReasonInvalidToken, zapcore.WarnLevel, zapcore.WarnLevel},
		{decision.ReasonSTSInvalidToken, zapcore.DebugLevel, zapcore.DebugLevel},
		{decision.ReasonAuthorized, zapcore.ErrorLevel, zapcore.DebugLevel},
	} {
		if got := decisionLevel(tc.reason, tc.configured); got != tc.want {
			t.Errorf("decisionLevel(%s, %v) = %v, want %v", tc.reason, tc.configured, got, tc.want)
		}
	}
}
