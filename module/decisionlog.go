package edgeauth

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/edgeauth/caddy-edgeauth/module/decision"
)

// parseDecisionLogLevel reads the handler's `decision_log_level` option:
// debug (the default, for ""), info, warn or error.
func parseDecisionLogLevel(s string) (zapcore.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "debug":
		return zapcore.DebugLevel, nil
	case "info":
		return zapcore.InfoLevel, nil
	case "warn", "warning":
		return zapcore.WarnLevel, nil
	case "error":
		return zapcore.ErrorLevel, nil
	}
	return zapcore.DebugLevel, fmt.Errorf("decision_log_level: %q is not a level; use debug, info, warn or error", s)
}

// decisionLevel is the level of a decision's log line: allowed requests at
// debug; a verified caller refused with 403 (a scope or claim rule, or the
// STS role) at info, or the operator's decision_log_level when higher, since
// a known user being refused is worth seeing; every other refusal (401s,
// 400s, 503s: bots knock all day) at decision_log_level, debug by default.
func decisionLevel(reason decision.Reason, configured zapcore.Level) zapcore.Level {
	switch {
	case reason.Outcome() == decision.OutcomeAllow:
		return zapcore.DebugLevel
	case verifiedRefusal(reason):
		return max(configured, zapcore.InfoLevel)
	default:
		return configured
	}
}

// verifiedRefusal reports whether a reason is a 403 for a caller whose
// credential verified.
func verifiedRefusal(reason decision.Reason) bool {
	switch reason {
	case decision.ReasonInsufficientScope, decision.ReasonClaimMismatch, decision.ReasonSTSForbidden:
		return true
	}
	return false
}

// logDecision writes one structured line for a decision at the given level:
// the outcome and reason code, a finer detail code (e.g. "expired", from
// decision.TokenErrorDetail), the provider, the subject of a caller whose
// credential verified (the {http.auth.user.id} placeholder, which Caddy's
// access log shows as user_id), the method, host and path, and Caddy's
// client IP. It never logs the query string, the Authorization header,
// cookies, the token or any other claim value. Nothing is allocated when
// the level is disabled.
func logDecision(logger *zap.Logger, level zapcore.Level, r *http.Request, reason decision.Reason, provider, detail string) {
	if logger == nil {
		return
	}
	ce := logger.Check(level, "decision")
	if ce == nil {
		return
	}
	fields := make([]zap.Field, 0, 8)
	fields = append(fields,
		zap.String("outcome", reason.Outcome().String()),
		zap.String("reason", reason.String()),
	)
	if detail != "" {
		fields = append(fields, zap.String("detail", detail))
	}
	if provider != "" {
		fields = append(fields, zap.String("provider", provider))
	}
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		if sub, _ := repl.GetString("http.auth.user.id"); sub != "" {
			fields = append(fields, zap.String("subject", sub))
		}
	}
	fields = append(fields,
		zap.String("method", r.Method),
		zap.String("host", r.Host),
		zap.String("path", r.URL.Path),
	)
	if ip, ok := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ok && ip != "" {
		fields = append(fields, zap.String("client_ip", ip))
	}
	ce.Write(fields...)
}
